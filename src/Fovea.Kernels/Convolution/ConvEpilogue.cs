using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// What a convolution's forward does to each output once its sum and bias are written: y = max(y + r, 0), the residual
/// r (a tensor of y's layout, or none) added and the ReLU applied (or not). A residual network's layers end this way
/// (relu(conv(x) + b) inside a block, relu(conv(x) + b + shortcut) at its join); done by the kernel on each run of y
/// it has just written, still in L1, it replaces a pass that reads and writes the whole output again from memory.
/// <para>
/// Each element is rounded as the separate passes round it: the sum and bias first (as the kernel stores them), then
/// round(y + r), then the IEEE maximum with +0 (NaN kept, −0 made +0, as <c>TensorPrimitives.Max</c> does), so the
/// fused and the unfused forward give the same bits.
/// </para>
/// </summary>
internal readonly unsafe struct ConvEpilogue<T> where T : unmanaged, INumber<T>
{
    /// <summary>The output's first element: a run at dst reads the residual at the same offset from <see cref="Residual"/>.</summary>
    private readonly T* _y;

    /// <summary>The residual, laid out as y, or null.</summary>
    public readonly T* Residual;

    /// <summary>Whether the ReLU follows.</summary>
    public readonly bool Relu;

    /// <summary>The epilogue of output <paramref name="y"/>: <paramref name="residual"/> (y's layout, or null) added, then the ReLU if <paramref name="relu"/>.</summary>
    public ConvEpilogue(T* y, T* residual, bool relu)
    {
        _y = y;
        Residual = residual;
        Relu = relu;
    }

    /// <summary>True when there is nothing to do (a plain convolution).</summary>
    public bool IsNone => Residual == null && !Relu;

    /// <summary>The same epilogue for an output that starts at <paramref name="y"/> (a view of this one's output at an offset).</summary>
    public ConvEpilogue<T> At(T* y) => new(y, Residual == null ? null : Residual + (y - _y), Relu);

    /// <summary>Where the residual of output element <paramref name="dst"/> lies (null without a residual).</summary>
    public T* ResidualAt(T* dst) => Residual == null ? null : Residual + (dst - _y);

    /// <summary>Applies the epilogue in place to y[dst … dst + len), which the kernel has just written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Run(T* dst, int len)
    {
        if (IsNone) return;
        Copy(dst, dst, len);
    }

    /// <summary>
    /// y[dst + t] = the epilogue of <paramref name="src"/>[t] for t &lt; <paramref name="len"/> (src may be dst): a
    /// kernel's finished outputs moved from its tile into y.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Copy(T* src, T* dst, int len)
    {
        // Locals, not fields: the stores through dst could alias this struct, which would make every iteration reload them.
        T* r = ResidualAt(dst);
        bool relu = Relu;
        int t = 0;
        if (typeof(T) == typeof(float))
            t = CopyFloats((float*)src, (float*)dst, (float*)r, relu, len);
        else if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            for (; t <= len - Vector256<T>.Count; t += Vector256<T>.Count)
            {
                var v = Vector256.Load(src + t);
                if (r != null) v += Vector256.Load(r + t);
                if (relu) v = Vector256.Max(v, Vector256<T>.Zero);
                v.Store(dst + t);
            }
        for (; t < len; t++) dst[t] = Value(src[t], r == null ? T.Zero : r[t], r != null, relu);
    }

    /// <summary>
    /// The float vectors of <see cref="Copy"/>; returns how many elements it did. The ReLU is max(0, v) + 0 with the
    /// native maximum, whose second operand is returned when either is NaN or both are zero: a NaN v is kept, and the
    /// −0 it would return for v = −0 becomes +0 in the add (which leaves every other value as it is), so it is the IEEE
    /// maximum with +0 in two instructions.
    /// </summary>
    private static int CopyFloats(float* src, float* dst, float* r, bool relu, int len)
    {
        if (r == null && !relu)
        {
            if (src != dst) Buffer.MemoryCopy(src, dst, (long)len * sizeof(float), (long)len * sizeof(float));
            return len;
        }
        int t = 0;
        if (Avx512F.IsSupported)
        {
            var zero = Vector512<float>.Zero;
            if (r == null)
                for (; t <= len - 16; t += 16) (Avx512F.Max(zero, Vector512.Load(src + t)) + zero).Store(dst + t);
            else if (relu)
                for (; t <= len - 16; t += 16) (Avx512F.Max(zero, Vector512.Load(src + t) + Vector512.Load(r + t)) + zero).Store(dst + t);
            else
                for (; t <= len - 16; t += 16) (Vector512.Load(src + t) + Vector512.Load(r + t)).Store(dst + t);
        }
        if (Avx.IsSupported)
        {
            var zero = Vector256<float>.Zero;
            if (r == null)
                for (; t <= len - 8; t += 8) (Avx.Max(zero, Vector256.Load(src + t)) + zero).Store(dst + t);
            else if (relu)
                for (; t <= len - 8; t += 8) (Avx.Max(zero, Vector256.Load(src + t) + Vector256.Load(r + t)) + zero).Store(dst + t);
            else
                for (; t <= len - 8; t += 8) (Vector256.Load(src + t) + Vector256.Load(r + t)).Store(dst + t);
            if (t <= len - 4)
            {
                var v = Vector128.Load(src + t);
                if (r != null) v += Vector128.Load(r + t);
                if (relu) v = Sse.Max(Vector128<float>.Zero, v) + Vector128<float>.Zero;
                v.Store(dst + t);
                t += 4;
            }
        }
        return t;
    }

    /// <summary>
    /// One output <paramref name="v"/> (for kernels that scatter single elements): the residual <paramref name="r"/>
    /// added if <paramref name="add"/>, then the ReLU if <paramref name="relu"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static T Value(T v, T r, bool add, bool relu)
    {
        if (add) v += r;
        // T.Max for IEEE types is the IEEE maximum (NaN propagates, max(−0, +0) = +0), as the vector Max above.
        return relu ? T.Max(v, T.Zero) : v;
    }
}
