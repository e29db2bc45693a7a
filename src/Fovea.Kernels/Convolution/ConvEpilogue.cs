using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>
/// What a float32 convolution's forward does to each output once its sum and bias are written: y = max(y + r, 0), the
/// residual r (a buffer of y's layout, or none) added and the ReLU applied (or not). A residual network's layers end
/// this way (relu(conv(x) + b) inside a block, relu(conv(x) + b + shortcut) at its join); done by the kernel on each
/// run of y it has just written, still in L1, it replaces a pass that reads and writes the whole output again
/// (<see cref="AddReluKernel"/>), where that is measured faster (<see cref="Conv2dKernels.EpilogueInKernel"/>).
/// <para>
/// Each element is rounded as the separate passes round it: the sum and bias first (as the kernel stores them), then
/// round(y + r), then the IEEE maximum with +0 (NaN kept, −0 made +0, as <c>TensorPrimitives.Max</c> does), so the
/// fused and the unfused forward give the same bits.
/// </para>
/// </summary>
internal readonly unsafe struct ConvEpilogue
{
    /// <summary>The output's first element: a run at dst reads the residual at the same offset from <see cref="Residual"/>.</summary>
    private readonly float* _y;

    /// <summary>The residual, laid out as y, or null.</summary>
    public readonly float* Residual;

    /// <summary>Whether the ReLU follows.</summary>
    public readonly bool Relu;

    /// <summary>The epilogue of output <paramref name="y"/>: <paramref name="residual"/> (y's layout, or null) added, then the ReLU if <paramref name="relu"/>.</summary>
    public ConvEpilogue(float* y, float* residual, bool relu)
    {
        _y = y;
        Residual = residual;
        Relu = relu;
    }

    /// <summary>True when there is nothing to do (a plain convolution).</summary>
    public bool IsNone => Residual == null && !Relu;

    /// <summary>Where the residual of output element <paramref name="dst"/> lies (null without a residual).</summary>
    public float* ResidualAt(float* dst) => Residual == null ? null : Residual + (dst - _y);

    /// <summary>Applies the epilogue in place to y[dst … dst + len), which the kernel has just written.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Run(float* dst, int len)
    {
        if (IsNone) return;
        Copy(dst, dst, len);
    }

    /// <summary>
    /// y[dst + t] = the epilogue of <paramref name="src"/>[t] for t &lt; <paramref name="len"/> (src may be dst): a
    /// kernel's finished outputs moved from its tile into y. The ReLU is max(0, v) + 0 with the native maximum, whose
    /// second operand is returned when either is NaN or both are zero: a NaN v is kept, and the −0 it would return for
    /// v = −0 becomes +0 in the add (which leaves every other value as it is), so it is the IEEE maximum with +0 in two
    /// instructions.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Copy(float* src, float* dst, int len)
    {
        // Locals, not fields: the stores through dst could alias this struct, which would make every iteration reload them.
        float* r = ResidualAt(dst);
        bool relu = Relu;
        if (r == null && !relu)
        {
            if (src != dst) Buffer.MemoryCopy(src, dst, (long)len * sizeof(float), (long)len * sizeof(float));
            return;
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
                StoreQuad(Vector128.Load(src + t), r == null ? null : r + t, relu, dst + t);
                t += 4;
            }
        }
        for (; t < len; t++) dst[t] = Value(src[t], r == null ? 0f : r[t], r != null, relu);
    }

    /// <summary>
    /// A register tile's rows of sums moved into y and finished: for each row r &lt; <paramref name="rows"/>,
    /// y[dst + r·<paramref name="ldd"/> + t] = the epilogue of (src[r·<paramref name="lds"/> + t] + bias[r]) for
    /// t &lt; <paramref name="len"/> (src may be dst; <paramref name="bias"/> null: no bias, not even a +0). One pass over
    /// the tile while it is in L1 instead of a call per row for the bias and another for the rest: with runs of 16
    /// outputs (a strided 1x1 layer's tiles, <see cref="PointwiseConv"/>) those calls cost more than the arithmetic.
    /// Rounds as the separate passes do: the sum plus the bias, then plus the residual, then the ReLU.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Rows(float* src, nint lds, float* dst, nint ldd, int rows, int len, float* bias)
    {
        if (!Avx.IsSupported)
        {
            for (int r = 0; r < rows; r++)
            {
                float* d = dst + r * ldd;
                float* from = src + r * lds;
                if (bias is not null)
                {
                    float add = bias[r];
                    for (int t = 0; t < len; t++) d[t] = from[t] + add;
                    from = d;
                }
                Copy(from, d, len);
            }
            return;
        }
        var zero = Vector256<float>.Zero;
        bool relu = Relu;
        for (int r = 0; r < rows; r++)
        {
            float* d = dst + r * ldd, from = src + r * lds, res = ResidualAt(d);
            float add = bias is null ? 0f : bias[r];
            var addV = Vector256.Create(add);
            int t = 0;
            for (; t <= len - 8; t += 8)
            {
                var v = Vector256.Load(from + t);
                if (bias is not null) v += addV;
                if (res is not null) v += Vector256.Load(res + t);
                if (relu) v = Avx.Max(zero, v) + zero;
                v.Store(d + t);
            }
            for (; t < len; t++)
                d[t] = Value(bias is null ? from[t] : from[t] + add, res is null ? 0f : res[t], res is not null, relu);
        }
    }

    /// <summary>Four outputs stored at <paramref name="dst"/>: the residual's four at <paramref name="r"/> (or none) added, then the ReLU if <paramref name="relu"/> (SSE).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreQuad(Vector128<float> v, float* r, bool relu, float* dst)
    {
        if (r != null) v += Vector128.Load(r);
        if (relu) v = Sse.Max(Vector128<float>.Zero, v) + Vector128<float>.Zero;
        v.Store(dst);
    }

    /// <summary>One output <paramref name="v"/>: the residual <paramref name="r"/> added if <paramref name="add"/>, then the ReLU if <paramref name="relu"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Value(float v, float r, bool add, bool relu)
    {
        if (add) v += r;
        // float.Max is the IEEE maximum (NaN propagates, max(−0, +0) = +0), as TensorPrimitives.Max.
        return relu ? float.Max(v, 0f) : v;
    }
}

/// <summary>
/// y = max(a + b, 0), or max(a, 0) without b, over whole contiguous buffers: the residual join and the ReLU as one
/// pass after the layer that wrote a, and the <see cref="ConvEpilogue"/> of the convolutions that do not apply it
/// in their own kernels.
/// </summary>
public static class AddReluKernel
{
    /// <summary>Elements per block: the sum is written and rectified while it is still in L1.</summary>
    private const int Block = 2048;

    /// <summary>
    /// Elements a thread's share must have. The pass follows the layer that wrote a (in place, or with the residual
    /// b): it reads data still in the caches, and on two threads part of it in the other core's, which a second thread
    /// fetches and rectifies in parallel. A region costs a few microseconds; 2^15 elements take about 5 µs on one
    /// thread. ResNet-18 at batch 1 on two threads (the 64x56x56 joins and ReLUs, 5 a forward, timed inside the network
    /// on a 2-core AMD EPYC, Zen 5): medians 61–63 → 19–44 µs with 2^15 instead of 2^17, which left them on one thread.
    /// </summary>
    private const int MinElements = 1 << 15;

    /// <summary>
    /// y[i] = max(a[i] + b[i], 0) (b empty: max(a[i], 0); without <paramref name="relu"/>, a[i] + b[i]) in L1-sized
    /// blocks: the add, then the rectification on the block just written (two vector passes over 8 KiB instead of two
    /// over the buffer). IEEE max keeps NaN and turns −0 into +0. y may be a or b exactly (TensorPrimitives allows exact
    /// overlap).
    /// </summary>
    public static void Run<T>(Memory<T> y, ReadOnlyMemory<T> a, ReadOnlyMemory<T> b, bool relu = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = y.Length;
        if (a.Length != n || (!b.IsEmpty && b.Length != n))
            throw new ArgumentException($"add_relu: {a.Length} and {b.Length} elements into {n}");
        ParallelFor.ForBalanced(n, MinElements, (start, end) =>
        {
            for (int k = start; k < end; k += Block)
            {
                int len = Math.Min(Block, end - k);
                var block = y.Span.Slice(k, len);
                if (b.IsEmpty)
                {
                    if (relu) TensorPrimitives.Max(a.Span.Slice(k, len), T.Zero, block);
                    else a.Span.Slice(k, len).CopyTo(block);
                    continue;
                }
                TensorPrimitives.Add(a.Span.Slice(k, len), b.Span.Slice(k, len), block);
                if (relu) TensorPrimitives.Max(block, T.Zero, block);
            }
        }, chunksPerThread: 2);
    }
}
