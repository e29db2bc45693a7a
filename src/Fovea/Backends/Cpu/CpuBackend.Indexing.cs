namespace Fovea.Backends.Cpu;

internal sealed partial class CpuBackend
{
    public Tensor IndexSelect(Tensor x, int dim, Tensor index)
    {
        EnsureAllowed();
        var idx = index.ContiguousRaw().AsSpan<int>();
        int n = x._shape[dim];
        foreach (int k in idx) ShapeChecks.IndexInRange("index_select", k, n, dim);
        var shape = x.Shape;
        shape[dim] = idx.Length;
        var y = Tensor.Allocate(x.DType, shape, clear: false);
        if (y.Numel == 0) return y;
        // Viewed as [outer, n, inner], each selected entry is one contiguous block of `inner` elements: one copy each
        // (a minibatch gather in the data loader is `outer = 1`, one block per sample).
        var xc = x.ContiguousRaw();
        int inner = 1;
        for (int d = dim + 1; d < x.Rank; d++) inner *= x._shape[d];
        int outer = y.Numel / (idx.Length * inner);
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < idx.Length; i++)
                Array.Copy(xc.Storage.Data, xc.Offset + (o * n + idx[i]) * inner, y.Storage.Data, (o * idx.Length + i) * inner, inner);
        return y;
    }

    public Tensor Gather(Tensor x, int dim, Tensor index)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(x.DType, index.Shape, clear: false);
        var ic = index.ContiguousRaw();
        var idx = ic.Storage.As<int>();
        int io = ic.Offset;
        int rank = x.Rank;
        var pos = new int[rank];
        for (int flat = 0; flat < y.Numel; flat++)
        {
            int k = idx[io + flat];
            ShapeChecks.IndexInRange("gather", k, x._shape[dim], dim);
            int src = x.Offset;
            for (int d = 0; d < rank; d++) src += (d == dim ? k : pos[d]) * x._strides[d];
            CopyElement(x, src, y, flat);
            Odometer.Advance(pos, y._shape);
        }
        return y;
    }

    public Tensor ScatterAdd(Tensor x, int dim, Tensor index, Tensor src)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        Assign(y, x);
        var ic = index.ContiguousRaw();
        var idx = ic.Storage.As<int>();
        int io = ic.Offset;
        int rank = x.Rank;
        var pos = new int[rank];
        for (int flat = 0; flat < index.Numel; flat++)
        {
            int k = idx[io + flat];
            ShapeChecks.IndexInRange("scatter_add", k, x._shape[dim], dim);
            int dst = 0, from = src.Offset;
            for (int d = 0; d < rank; d++)
            {
                dst += (d == dim ? k : pos[d]) * y._strides[d];
                from += pos[d] * src._strides[d];
            }
            switch (y.DType)
            {
                case DType.Float32: y.Storage.As<float>()[dst] += src.Storage.As<float>()[from]; break;
                case DType.Float64: y.Storage.As<double>()[dst] += src.Storage.As<double>()[from]; break;
                case DType.Int32: y.Storage.As<int>()[dst] += src.Storage.As<int>()[from]; break;
                default: throw new DTypeException("scatter_add", "not defined for bool tensors");
            }
            Odometer.Advance(pos, index._shape);
        }
        return y;
    }

    private static void CopyElement(Tensor from, int fromIndex, Tensor to, int toIndex)
    {
        switch (from.DType)
        {
            case DType.Float32: to.Storage.As<float>()[toIndex] = from.Storage.As<float>()[fromIndex]; break;
            case DType.Float64: to.Storage.As<double>()[toIndex] = from.Storage.As<double>()[fromIndex]; break;
            case DType.Int32: to.Storage.As<int>()[toIndex] = from.Storage.As<int>()[fromIndex]; break;
            case DType.Bool: to.Storage.As<bool>()[toIndex] = from.Storage.As<bool>()[fromIndex]; break;
        }
    }

    public Tensor Cat(IReadOnlyList<Tensor> tensors, int dim, int[] shape)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(tensors[0].DType, shape, clear: false);
        int at = 0;
        foreach (var t in tensors)
        {
            int len = t._shape[dim];
            if (len > 0) Assign(y.SliceRaw(dim, at, 1, len), t);
            at += len;
        }
        return y;
    }
}
