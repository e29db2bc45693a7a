using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Fovea.Backends.Cpu;

/// <summary>A unary operator: a scalar rule and a span rule (SIMD through TensorPrimitives).</summary>
internal interface IUnaryOp<T>
{
    static abstract T Apply(T x);
    static abstract void Span(ReadOnlySpan<T> x, Span<T> y);
}

/// <summary>A binary operator with span-span, span-scalar and scalar-span SIMD forms.</summary>
internal interface IBinaryOp<T>
{
    static abstract T Apply(T a, T b);
    static abstract void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y);
    static abstract void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y);
    static abstract void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y);
}

/// <summary>A comparison producing a bool.</summary>
internal interface ICompareOp<T>
{
    static abstract bool Apply(T a, T b);
}

internal readonly struct AddOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a + b;
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Add(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Add(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Add(b, a, y);
}

internal readonly struct SubOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a - b;
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Subtract(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Subtract(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Subtract(a, b, y);
}

internal readonly struct MulOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a * b;
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Multiply(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Multiply(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Multiply(b, a, y);
}

internal readonly struct DivOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => a / b;
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Divide(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Divide(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Divide(a, b, y);
}

internal readonly struct PowOp<T> : IBinaryOp<T> where T : IPowerFunctions<T>
{
    public static T Apply(T a, T b) => T.Pow(a, b);
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Pow(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Pow(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Pow(a, b, y);
}

/// <summary>Elementwise maximum; NaN propagates (PyTorch's <c>maximum</c>).</summary>
internal readonly struct MaxOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => T.Max(a, b);
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Max(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Max(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Max(b, a, y);
}

/// <summary>Elementwise minimum; NaN propagates (PyTorch's <c>minimum</c>).</summary>
internal readonly struct MinOp<T> : IBinaryOp<T> where T : INumber<T>
{
    public static T Apply(T a, T b) => T.Min(a, b);
    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Min(a, b, y);
    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y) => TensorPrimitives.Min(a, b, y);
    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y) => TensorPrimitives.Min(b, a, y);
}

/// <summary>a where b &gt; 0, else 0: ReLU's backward (b is the ReLU input); one select per element.</summary>
internal readonly struct MaskPositiveOp<T> : IBinaryOp<T> where T : unmanaged, INumber<T>
{
    public static T Apply(T a, T b) => b > T.Zero ? a : T.Zero;

    public static void Span(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> y)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            ref T ar = ref MemoryMarshal.GetReference(a);
            ref T br = ref MemoryMarshal.GetReference(b);
            ref T yr = ref MemoryMarshal.GetReference(y);
            for (; i <= y.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                var keep = Vector256.GreaterThan(Vector256.LoadUnsafe(ref br, (nuint)i), Vector256<T>.Zero);
                (Vector256.LoadUnsafe(ref ar, (nuint)i) & keep).StoreUnsafe(ref yr, (nuint)i);
            }
        }
        for (; i < y.Length; i++) y[i] = Apply(a[i], b[i]);
    }

    public static void SpanScalar(ReadOnlySpan<T> a, T b, Span<T> y)
    {
        if (b > T.Zero) a.CopyTo(y);
        else y.Clear();
    }

    public static void ScalarSpan(T a, ReadOnlySpan<T> b, Span<T> y)
    {
        for (int i = 0; i < y.Length; i++) y[i] = Apply(a, b[i]);
    }
}

internal readonly struct NegOp<T> : IUnaryOp<T> where T : INumber<T>
{
    public static T Apply(T x) => -x;
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Negate(x, y);
}

internal readonly struct AbsOp<T> : IUnaryOp<T> where T : INumber<T>
{
    public static T Apply(T x) => T.Abs(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Abs(x, y);
}

internal readonly struct SignOp<T> : IUnaryOp<T> where T : INumber<T>
{
    public static T Apply(T x) => T.IsNaN(x) ? x : T.CreateTruncating(T.Sign(x));
    public static void Span(ReadOnlySpan<T> x, Span<T> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = Apply(x[i]);
    }
}

internal readonly struct ExpOp<T> : IUnaryOp<T> where T : IExponentialFunctions<T>
{
    public static T Apply(T x) => T.Exp(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Exp(x, y);
}

internal readonly struct LogOp<T> : IUnaryOp<T> where T : ILogarithmicFunctions<T>
{
    public static T Apply(T x) => T.Log(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Log(x, y);
}

internal readonly struct SqrtOp<T> : IUnaryOp<T> where T : IRootFunctions<T>
{
    public static T Apply(T x) => T.Sqrt(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Sqrt(x, y);
}

/// <summary>1/sqrt(x), computed exactly (not the hardware estimate) so float64 gradient checks hold.</summary>
internal readonly struct RsqrtOp<T> : IUnaryOp<T> where T : IRootFunctions<T>, IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.One / T.Sqrt(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y)
    {
        TensorPrimitives.Sqrt(x, y);
        TensorPrimitives.Divide(T.One, y, y);
    }
}

internal readonly struct SinOp<T> : IUnaryOp<T> where T : ITrigonometricFunctions<T>
{
    public static T Apply(T x) => T.Sin(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Sin(x, y);
}

internal readonly struct CosOp<T> : IUnaryOp<T> where T : ITrigonometricFunctions<T>
{
    public static T Apply(T x) => T.Cos(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Cos(x, y);
}

internal readonly struct TanhOp<T> : IUnaryOp<T> where T : IHyperbolicFunctions<T>
{
    public static T Apply(T x) => T.Tanh(x);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Tanh(x, y);
}

/// <summary>σ(x) = 1 / (1 + e^-x).</summary>
internal readonly struct SigmoidOp<T> : IUnaryOp<T> where T : IExponentialFunctions<T>, IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.One / (T.One + T.Exp(-x));
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Sigmoid(x, y);
}

/// <summary>max(x, 0); NaN propagates.</summary>
internal readonly struct ReluOp<T> : IUnaryOp<T> where T : INumber<T>
{
    public static T Apply(T x) => T.IsNaN(x) ? x : (x > T.Zero ? x : T.Zero);
    public static void Span(ReadOnlySpan<T> x, Span<T> y) => TensorPrimitives.Max(x, T.Zero, y);
}

internal readonly struct EqOp<T> : ICompareOp<T> where T : IEqualityOperators<T, T, bool>
{
    public static bool Apply(T a, T b) => a == b;
}

internal readonly struct NeOp<T> : ICompareOp<T> where T : IEqualityOperators<T, T, bool>
{
    public static bool Apply(T a, T b) => a != b;
}

internal readonly struct LtOp<T> : ICompareOp<T> where T : IComparisonOperators<T, T, bool>
{
    public static bool Apply(T a, T b) => a < b;
}

internal readonly struct LeOp<T> : ICompareOp<T> where T : IComparisonOperators<T, T, bool>
{
    public static bool Apply(T a, T b) => a <= b;
}

internal readonly struct GtOp<T> : ICompareOp<T> where T : IComparisonOperators<T, T, bool>
{
    public static bool Apply(T a, T b) => a > b;
}

internal readonly struct GeOp<T> : ICompareOp<T> where T : IComparisonOperators<T, T, bool>
{
    public static bool Apply(T a, T b) => a >= b;
}

internal readonly struct AndOp : ICompareOp<bool>
{
    public static bool Apply(bool a, bool b) => a & b;
}

internal readonly struct OrOp : ICompareOp<bool>
{
    public static bool Apply(bool a, bool b) => a | b;
}

internal readonly struct BoolEqOp : ICompareOp<bool>
{
    public static bool Apply(bool a, bool b) => a == b;
}

internal readonly struct XorOp : ICompareOp<bool>
{
    public static bool Apply(bool a, bool b) => a ^ b;
}
