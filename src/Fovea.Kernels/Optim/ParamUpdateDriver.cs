using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// One optimizer update, applied in place to a parameter element and up to three state elements
/// (moment buffers). Implementations are readonly structs holding the step's coefficients, so the
/// driver's loop is specialised for each update rule. The scalar and vector forms must perform the
/// same operations in the same order: an element's result may not depend on where it sits.
/// </summary>
public interface IParamUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Updates one element. Refs of unused state slots point at a scratch value.</summary>
    void Invoke(ref T param, T grad, ref T s0, ref T s1, ref T s2);

    /// <summary>Updates one vector of elements. Unused state slots hold zeros and are not stored.</summary>
    void Invoke(ref Vector<T> param, Vector<T> grad, ref Vector<T> s0, ref Vector<T> s1, ref Vector<T> s2);
}

/// <summary>
/// Drives an <see cref="IParamUpdate{T}"/> over a whole parameter in a single pass: every element of the
/// parameter, its gradient and its state is read once and written once, which is what bounds the speed
/// of an optimizer step (it is memory-bound, so the hardware vector width of <see cref="Vector{T}"/> is
/// enough; wider registers would not move data faster).
/// </summary>
public static class ParamUpdateDriver
{
    /// <summary>
    /// Applies <paramref name="op"/> to every element. <paramref name="grad"/> must have the parameter's
    /// length; each state span is either empty (slot unused) or of that length too.
    /// </summary>
    public static void Run<T, TOp>(in TOp op, Span<T> param, ReadOnlySpan<T> grad, Span<T> s0, Span<T> s1, Span<T> s2)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IParamUpdate<T>
    {
        int n = param.Length;
        if (grad.Length != n)
            throw new ArgumentException($"optimizer update: the gradient has {grad.Length} elements but the parameter has {n}");
        CheckSlot(s0.Length, n, 0);
        CheckSlot(s1.Length, n, 1);
        CheckSlot(s2.Length, n, 2);
        if (n == 0) return;
        bool h0 = !s0.IsEmpty, h1 = !s1.IsEmpty, h2 = !s2.IsEmpty;
        int w = Vector<T>.Count;
        if (!Vector.IsHardwareAccelerated || n < w)
        {
            T d0 = default, d1 = default, d2 = default;
            for (int i = 0; i < n; i++)
                op.Invoke(ref param[i], grad[i], ref h0 ? ref s0[i] : ref d0, ref h1 ? ref s1[i] : ref d1, ref h2 ? ref s2[i] : ref d2);
            return;
        }

        ref T rp = ref MemoryMarshal.GetReference(param);
        ref T rg = ref MemoryMarshal.GetReference(grad);
        ref T r0 = ref MemoryMarshal.GetReference(s0);
        ref T r1 = ref MemoryMarshal.GetReference(s1);
        ref T r2 = ref MemoryMarshal.GetReference(s2);

        // No scalar remainder: the last full vector is computed first, from the untouched inputs, and
        // stored last. The main loop may update part of that window too, but from the same original
        // values, so the final store writes the very results the loop wrote there.
        nuint last = (nuint)(n - w);
        var tp = Vector.LoadUnsafe(ref rp, last);
        var t0 = h0 ? Vector.LoadUnsafe(ref r0, last) : default;
        var t1 = h1 ? Vector.LoadUnsafe(ref r1, last) : default;
        var t2 = h2 ? Vector.LoadUnsafe(ref r2, last) : default;
        op.Invoke(ref tp, Vector.LoadUnsafe(ref rg, last), ref t0, ref t1, ref t2);

        for (nuint i = 0; i < last; i += (nuint)w)
        {
            var vp = Vector.LoadUnsafe(ref rp, i);
            var v0 = h0 ? Vector.LoadUnsafe(ref r0, i) : default;
            var v1 = h1 ? Vector.LoadUnsafe(ref r1, i) : default;
            var v2 = h2 ? Vector.LoadUnsafe(ref r2, i) : default;
            op.Invoke(ref vp, Vector.LoadUnsafe(ref rg, i), ref v0, ref v1, ref v2);
            vp.StoreUnsafe(ref rp, i);
            if (h0) v0.StoreUnsafe(ref r0, i);
            if (h1) v1.StoreUnsafe(ref r1, i);
            if (h2) v2.StoreUnsafe(ref r2, i);
        }

        tp.StoreUnsafe(ref rp, last);
        if (h0) t0.StoreUnsafe(ref r0, last);
        if (h1) t1.StoreUnsafe(ref r1, last);
        if (h2) t2.StoreUnsafe(ref r2, last);
    }

    /// <summary>
    /// <see cref="Run"/> over array segments, split across threads by the memory-bound rule,
    /// <see cref="ParallelFor.ThreadsForBytes"/> of the bytes the update moves (the parameter and each state slot read and
    /// written, the gradient read): a step is memory-bound, and two cores move about twice the bytes of one. The update
    /// is elementwise, so the split does not change any result. Small parameters take the serial path, which allocates
    /// nothing.
    /// </summary>
    public static void RunParallel<T, TOp>(in TOp op, ArraySegment<T> param, ArraySegment<T> grad, ArraySegment<T> s0, ArraySegment<T> s1, ArraySegment<T> s2)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IParamUpdate<T>
    {
        int n = param.Count;
        int slots = (s0.Count > 0 ? 1 : 0) + (s1.Count > 0 ? 1 : 0) + (s2.Count > 0 ? 1 : 0);
        int threads = ParallelFor.ThreadsForBytes((long)n * Unsafe.SizeOf<T>() * (3 + 2 * slots));
        if (threads <= 1)
        {
            Run(op, param.AsSpan(), grad.AsSpan(), s0.AsSpan(), s1.AsSpan(), s2.AsSpan());
            return;
        }
        if (grad.Count != n) throw new ArgumentException($"optimizer update: the gradient has {grad.Count} elements but the parameter has {n}");
        CheckSlot(s0.Count, n, 0);
        CheckSlot(s1.Count, n, 1);
        CheckSlot(s2.Count, n, 2);
        Split(threads, op, param, grad, s0, s1, s2);
    }

    // Separate from RunParallel because the closure's captures are allocated on entry to the method that
    // declares them: kept here, the serial path allocates nothing.
    private static void Split<T, TOp>(int threads, TOp op, ArraySegment<T> param, ArraySegment<T> grad, ArraySegment<T> s0, ArraySegment<T> s1, ArraySegment<T> s2)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IParamUpdate<T> =>
        ParallelFor.For(param.Count, Math.Max(1, param.Count / threads), (start, end) =>
            Run(op, param.AsSpan(start, end - start), grad.AsSpan(start, end - start), Part(s0, start, end), Part(s1, start, end), Part(s2, start, end)));

    private static Span<T> Part<T>(ArraySegment<T> slot, int start, int end) => slot.Count == 0 ? default : slot.AsSpan(start, end - start);

    private static void CheckSlot(int length, int n, int slot)
    {
        if (length != 0 && length != n)
            throw new ArgumentException($"optimizer update: state slot {slot} has {length} elements but the parameter has {n}");
    }
}
