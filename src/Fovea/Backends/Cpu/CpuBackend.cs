using System.Numerics;

namespace Fovea.Backends.Cpu;

/// <summary>
/// The fast CPU backend: elementwise ops through operator structs over TensorPrimitives' SIMD span
/// kernels, driven by <see cref="StridedLoop"/>; GEMM from Fovea.Kernels; threads via ParallelFor.
/// </summary>
internal sealed partial class CpuBackend : IBackend
{
    public string Name => "cpu";

    private static int[][] Strides(int[] shape, params Tensor[] operands)
    {
        var result = new int[operands.Length][];
        for (int i = 0; i < operands.Length; i++) result[i] = StridedLoop.BroadcastStrides(operands[i], shape);
        return result;
    }

    private static int[] Offsets(params Tensor[] operands)
    {
        var result = new int[operands.Length];
        for (int i = 0; i < operands.Length; i++) result[i] = operands[i].Offset;
        return result;
    }

    public void Assign(Tensor dst, Tensor src)
    {
        EnsureAllowed();
        var shape = dst._shape;
        var strides = Strides(shape, dst, src);
        var offsets = Offsets(dst, src);
        switch (dst.DType)
        {
            case DType.Float32: StridedLoop.Run(shape, strides, offsets, new CopyRow<float>(dst.Storage.As<float>(), src.Storage.As<float>())); break;
            case DType.Float64: StridedLoop.Run(shape, strides, offsets, new CopyRow<double>(dst.Storage.As<double>(), src.Storage.As<double>())); break;
            case DType.Int32: StridedLoop.Run(shape, strides, offsets, new CopyRow<int>(dst.Storage.As<int>(), src.Storage.As<int>())); break;
            case DType.Bool: StridedLoop.Run(shape, strides, offsets, new CopyRow<bool>(dst.Storage.As<bool>(), src.Storage.As<bool>())); break;
        }
    }

    public Tensor Cast(Tensor x, DType dtype)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(dtype, x.Shape, clear: false);
        var shape = x._shape;
        var strides = Strides(shape, y, x);
        var offsets = Offsets(y, x);
        switch (x.DType)
        {
            case DType.Float32: CastFrom(x.Storage.As<float>(), y, shape, strides, offsets); break;
            case DType.Float64: CastFrom(x.Storage.As<double>(), y, shape, strides, offsets); break;
            case DType.Int32: CastFrom(x.Storage.As<int>(), y, shape, strides, offsets); break;
            case DType.Bool:
                var b = x.Storage.As<bool>();
                switch (dtype)
                {
                    case DType.Float32: StridedLoop.Run(shape, strides, offsets, new FromBoolRow<float>(y.Storage.As<float>(), b)); break;
                    case DType.Float64: StridedLoop.Run(shape, strides, offsets, new FromBoolRow<double>(y.Storage.As<double>(), b)); break;
                    case DType.Int32: StridedLoop.Run(shape, strides, offsets, new FromBoolRow<int>(y.Storage.As<int>(), b)); break;
                    case DType.Bool: StridedLoop.Run(shape, strides, offsets, new CopyRow<bool>(y.Storage.As<bool>(), b)); break;
                }
                break;
        }
        return y;
    }

    private static void CastFrom<TFrom>(TFrom[] x, Tensor y, int[] shape, int[][] strides, int[] offsets)
        where TFrom : unmanaged, INumberBase<TFrom>
    {
        switch (y.DType)
        {
            case DType.Float32: StridedLoop.Run(shape, strides, offsets, new CastRow<TFrom, float>(y.Storage.As<float>(), x)); break;
            case DType.Float64: StridedLoop.Run(shape, strides, offsets, new CastRow<TFrom, double>(y.Storage.As<double>(), x)); break;
            case DType.Int32: StridedLoop.Run(shape, strides, offsets, new CastRow<TFrom, int>(y.Storage.As<int>(), x)); break;
            case DType.Bool: StridedLoop.Run(shape, strides, offsets, new ToBoolRow<TFrom>(y.Storage.As<bool>(), x)); break;
        }
    }

    public Tensor Unary(UnaryOp op, Tensor x)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(x.DType, x.Shape, clear: false);
        var shape = x._shape;
        var strides = Strides(shape, y, x);
        var offsets = Offsets(y, x);
        switch (x.DType)
        {
            case DType.Float32: UnaryFloat(op, y.Storage.As<float>(), x.Storage.As<float>(), shape, strides, offsets); break;
            case DType.Float64: UnaryFloat(op, y.Storage.As<double>(), x.Storage.As<double>(), shape, strides, offsets); break;
            case DType.Int32:
                var yi = y.Storage.As<int>();
                var xi = x.Storage.As<int>();
                switch (op)
                {
                    case UnaryOp.Neg: StridedLoop.Run(shape, strides, offsets, new UnaryRow<int, NegOp<int>>(yi, xi)); break;
                    case UnaryOp.Abs: StridedLoop.Run(shape, strides, offsets, new UnaryRow<int, AbsOp<int>>(yi, xi)); break;
                    case UnaryOp.Sign: StridedLoop.Run(shape, strides, offsets, new UnaryRow<int, SignOp<int>>(yi, xi)); break;
                    case UnaryOp.Relu: StridedLoop.Run(shape, strides, offsets, new UnaryRow<int, ReluOp<int>>(yi, xi)); break;
                    default: throw new DTypeException(op.ToString().ToLowerInvariant(), "expected a floating dtype, got int32; convert with .To(DType.Float32)");
                }
                break;
            default:
                throw new DTypeException(op.ToString().ToLowerInvariant(), $"not defined for {x.DType.Name()} tensors");
        }
        return y;
    }

    private static void UnaryFloat<T>(UnaryOp op, T[] y, T[] x, int[] shape, int[][] strides, int[] offsets)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        switch (op)
        {
            case UnaryOp.Neg: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, NegOp<T>>(y, x)); break;
            case UnaryOp.Abs: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, AbsOp<T>>(y, x)); break;
            case UnaryOp.Sign: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, SignOp<T>>(y, x)); break;
            case UnaryOp.Exp: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, ExpOp<T>>(y, x)); break;
            case UnaryOp.Log: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, LogOp<T>>(y, x)); break;
            case UnaryOp.Sqrt: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, SqrtOp<T>>(y, x)); break;
            case UnaryOp.Rsqrt: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, RsqrtOp<T>>(y, x)); break;
            case UnaryOp.Sin: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, SinOp<T>>(y, x)); break;
            case UnaryOp.Cos: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, CosOp<T>>(y, x)); break;
            case UnaryOp.Tanh: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, TanhOp<T>>(y, x)); break;
            case UnaryOp.Sigmoid: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, SigmoidOp<T>>(y, x)); break;
            case UnaryOp.Relu: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, ReluOp<T>>(y, x)); break;
            case UnaryOp.Erf: StridedLoop.Run(shape, strides, offsets, new UnaryRow<T, ErfOp<T>>(y, x)); break;
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    public Tensor Binary(BinaryOp op, Tensor a, Tensor b, int[] shape)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(a.DType, shape, clear: false);
        int[][] strides;
        int[] offsets;
        if (a.IsContiguous && (b.Numel == 1 || (b.IsContiguous && b.Numel == y.Numel)) && a.Numel == y.Numel)
        {
            // The hot case (same-shape operands, or a tensor and a scalar) skips the broadcast bookkeeping.
            int[] unit = [1];
            strides = [unit, unit, b.Numel == 1 && y.Numel != 1 ? [0] : unit];
            offsets = [0, a.Offset, b.Offset];
            shape = [y.Numel];
        }
        else
        {
            strides = Strides(shape, y, a, b);
            offsets = Offsets(y, a, b);
        }
        switch (a.DType)
        {
            case DType.Float32:
                BinaryNumber(op, y.Storage.As<float>(), a.Storage.As<float>(), b.Storage.As<float>(), shape, strides, offsets);
                break;
            case DType.Float64:
                BinaryNumber(op, y.Storage.As<double>(), a.Storage.As<double>(), b.Storage.As<double>(), shape, strides, offsets);
                break;
            case DType.Int32:
                if (op is BinaryOp.Div or BinaryOp.Pow)
                    throw new DTypeException(op.ToString().ToLowerInvariant(), "expected a floating dtype, got int32; convert with .To(DType.Float32)");
                BinaryNumber(op, y.Storage.As<int>(), a.Storage.As<int>(), b.Storage.As<int>(), shape, strides, offsets);
                break;
            default:
                throw new DTypeException(op.ToString().ToLowerInvariant(), $"not defined for {a.DType.Name()} tensors");
        }
        return y;
    }

    private static void BinaryNumber<T>(BinaryOp op, T[] y, T[] a, T[] b, int[] shape, int[][] strides, int[] offsets)
        where T : unmanaged, INumber<T>
    {
        switch (op)
        {
            case BinaryOp.Add: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, AddOp<T>>(y, a, b)); break;
            case BinaryOp.Sub: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, SubOp<T>>(y, a, b)); break;
            case BinaryOp.Mul: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, MulOp<T>>(y, a, b)); break;
            case BinaryOp.Div: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, DivOp<T>>(y, a, b)); break;
            case BinaryOp.Maximum: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, MaxOp<T>>(y, a, b)); break;
            case BinaryOp.Minimum: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, MinOp<T>>(y, a, b)); break;
            case BinaryOp.MaskPositive: StridedLoop.Run(shape, strides, offsets, new BinaryRow<T, MaskPositiveOp<T>>(y, a, b)); break;
            case BinaryOp.Pow:
                if (typeof(T) == typeof(float))
                    StridedLoop.Run(shape, strides, offsets, new BinaryRow<float, PowOp<float>>((float[])(object)y, (float[])(object)a, (float[])(object)b));
                else
                    StridedLoop.Run(shape, strides, offsets, new BinaryRow<double, PowOp<double>>((double[])(object)y, (double[])(object)a, (double[])(object)b));
                break;
            default: throw new ArgumentOutOfRangeException(nameof(op));
        }
    }

    public Tensor Compare(CompareOp op, Tensor a, Tensor b, int[] shape)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(DType.Bool, shape, clear: false);
        var strides = Strides(shape, y, a, b);
        var offsets = Offsets(y, a, b);
        var yb = y.Storage.As<bool>();
        switch (a.DType)
        {
            case DType.Float32: CompareNumber(op, yb, a.Storage.As<float>(), b.Storage.As<float>(), shape, strides, offsets); break;
            case DType.Float64: CompareNumber(op, yb, a.Storage.As<double>(), b.Storage.As<double>(), shape, strides, offsets); break;
            case DType.Int32: CompareNumber(op, yb, a.Storage.As<int>(), b.Storage.As<int>(), shape, strides, offsets); break;
            case DType.Bool:
                var ab = a.Storage.As<bool>();
                var bb = b.Storage.As<bool>();
                switch (op)
                {
                    case CompareOp.And: StridedLoop.Run(shape, strides, offsets, new CompareRow<bool, AndOp>(yb, ab, bb)); break;
                    case CompareOp.Or: StridedLoop.Run(shape, strides, offsets, new CompareRow<bool, OrOp>(yb, ab, bb)); break;
                    case CompareOp.Xor or CompareOp.Ne: StridedLoop.Run(shape, strides, offsets, new CompareRow<bool, XorOp>(yb, ab, bb)); break;
                    case CompareOp.Eq: StridedLoop.Run(shape, strides, offsets, new CompareRow<bool, BoolEqOp>(yb, ab, bb)); break;
                    default: throw new DTypeException(op.ToString().ToLowerInvariant(), "ordering comparisons are not defined for bool tensors");
                }
                break;
        }
        return y;
    }

    private static void CompareNumber<T>(CompareOp op, bool[] y, T[] a, T[] b, int[] shape, int[][] strides, int[] offsets)
        where T : unmanaged, INumber<T>
    {
        switch (op)
        {
            case CompareOp.Eq: StridedLoop.Run(shape, strides, offsets, new CompareRow<T, EqOp<T>>(y, a, b)); break;
            case CompareOp.Ne: StridedLoop.Run(shape, strides, offsets, new CompareRow<T, NeOp<T>>(y, a, b)); break;
            case CompareOp.Lt: StridedLoop.Run(shape, strides, offsets, new CompareRow<T, LtOp<T>>(y, a, b)); break;
            case CompareOp.Le: StridedLoop.Run(shape, strides, offsets, new CompareRow<T, LeOp<T>>(y, a, b)); break;
            case CompareOp.Gt: StridedLoop.Run(shape, strides, offsets, new CompareRow<T, GtOp<T>>(y, a, b)); break;
            case CompareOp.Ge: StridedLoop.Run(shape, strides, offsets, new CompareRow<T, GeOp<T>>(y, a, b)); break;
            default: throw new DTypeException(op.ToString().ToLowerInvariant(), "logical ops need bool tensors");
        }
    }

    public Tensor Where(Tensor cond, Tensor a, Tensor b, int[] shape)
    {
        EnsureAllowed();
        var y = Tensor.Allocate(a.DType, shape, clear: false);
        var strides = Strides(shape, y, cond, a, b);
        var offsets = Offsets(y, cond, a, b);
        var c = cond.Storage.As<bool>();
        switch (a.DType)
        {
            case DType.Float32: StridedLoop.Run(shape, strides, offsets, new WhereRow<float>(y.Storage.As<float>(), c, a.Storage.As<float>(), b.Storage.As<float>())); break;
            case DType.Float64: StridedLoop.Run(shape, strides, offsets, new WhereRow<double>(y.Storage.As<double>(), c, a.Storage.As<double>(), b.Storage.As<double>())); break;
            case DType.Int32: StridedLoop.Run(shape, strides, offsets, new WhereRow<int>(y.Storage.As<int>(), c, a.Storage.As<int>(), b.Storage.As<int>())); break;
            case DType.Bool: StridedLoop.Run(shape, strides, offsets, new WhereRow<bool>(y.Storage.As<bool>(), c, a.Storage.As<bool>(), b.Storage.As<bool>())); break;
        }
        return y;
    }
}
