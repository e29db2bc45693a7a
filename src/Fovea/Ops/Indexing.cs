using Fovea.Backends;

namespace Fovea.Ops;

/// <summary>out = x[index] along dim. The gradient is scatter-added back into the selected rows.</summary>
internal sealed class IndexSelectFunction(int dim, Tensor index) : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.IndexSelect(x[0], dim, index);

    protected override Tensor?[] Backward(Tensor g)
    {
        // Broadcast the 1-d index along every other dim so scatter-add can place each gradient row.
        var shape = new int[g.Rank];
        Array.Fill(shape, 1);
        shape[dim] = index.Numel;
        var expanded = index.Reshape(shape).Expand(g._shape).Contiguous();
        return [Tensor.Zeros(InputShapes[0], g.DType).ScatterAdd(dim, expanded, g)];
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.IndexSelect(dim, index);
}

/// <summary>out[i][j] = x[i][index[i][j]] (dim 1). The gradient is scatter-added to the gathered positions.</summary>
internal sealed class GatherFunction(int dim, Tensor index) : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.Gather(x[0], dim, index);
    protected override Tensor?[] Backward(Tensor g) => [Tensor.Zeros(InputShapes[0], g.DType).ScatterAdd(dim, index, g)];
    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Gather(dim, index);
}

/// <summary>out = x with src added at index along dim. d/dx = identity; d/dsrc = gather of the gradient.</summary>
internal sealed class ScatterAddFunction(int dim, Tensor index) : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.ScatterAdd(x[0], dim, index, x[1]);
    protected override Tensor?[] Backward(Tensor g) => [g, g.Gather(dim, index)];

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) =>
        Broadcasting.OrZeros(t[0], x[0]).ScatterAdd(dim, index, Broadcasting.OrZeros(t[1], x[1]));
}

/// <summary>Concatenation along dim. Each input's gradient is its slice of the output gradient.</summary>
internal sealed class CatFunction(int dim, int[] shape) : Function
{
    protected override Tensor Forward(Tensor[] x) => Backend.Current.Cat(x, dim, shape);

    protected override Tensor?[] Backward(Tensor g)
    {
        var grads = new Tensor?[InputShapes.Length];
        int at = 0;
        for (int i = 0; i < grads.Length; i++)
        {
            int len = InputShapes[i][dim];
            grads[i] = g.Narrow(dim, at, len);
            at += len;
        }
        return grads;
    }

    protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t)
    {
        var parts = new Tensor[x.Length];
        for (int i = 0; i < x.Length; i++) parts[i] = Broadcasting.OrZeros(t[i], x[i]);
        return Tensor.Cat(parts, dim);
    }
}
