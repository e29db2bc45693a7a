using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

/// <summary>
/// The column phases of a zero-padded image row, for windows with a column stride: phase ph of the row holds its padded
/// columns ph, ph + s, ph + 2s, … (s phases for stride s). A tap of a stride-s window then reads consecutive elements
/// of one phase for consecutive output pixels, where in the row itself it reads every s-th one. The implicit GEMM's
/// packing (<see cref="ImplicitGemmConv{T, TKernel}"/>) and the stem's direct forward (<see cref="PhaseRowConv"/>) read them.
/// </summary>
internal static unsafe class ColumnPhases
{
    /// <summary>
    /// Phase column q of phase ph, at <c>dst + ph·phaseStride + q</c> for q in [0, <paramref name="length"/>), is padded
    /// column q·phases + ph of <paramref name="row"/>: its column q·phases + ph − padW, zero outside [0, width).
    /// </summary>
    public static void SplitRow<T>(T* row, int width, int padW, int phases, int length, T* dst, long phaseStride)
        where T : unmanaged, INumber<T>
    {
        for (int ph = 0; ph < phases; ph++)
        {
            T* d = dst + ph * phaseStride;
            int q = 0;
            for (; q < length && q * phases + ph - padW < 0; q++) d[q] = T.Zero;
            if (phases == 2 && sizeof(T) == sizeof(uint) && Vector256.IsHardwareAccelerated)
            {
                for (int ix = 2 * q + ph - padW; q + 8 <= length && ix + 16 <= width; q += 8, ix += 16)
                    StoreEvens(row + ix, d + q);
            }
            for (; q < length; q++)
            {
                int ix = q * phases + ph - padW;
                d[q] = ix < width ? row[ix] : T.Zero;
            }
        }
    }

    /// <summary>
    /// Stride 2 on 4-byte elements: the even elements of the 16 at <paramref name="src"/> into 8 at <paramref name="dst"/>.
    /// They are the low halves of 8 64-bit lanes, which Narrow gathers in order. Callers check
    /// <see cref="Vector256.IsHardwareAccelerated"/> and that T is 4 bytes wide.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void StoreEvens<T>(T* src, T* dst) where T : unmanaged =>
        Vector256.Store(Vector256.Narrow(Vector256.Load((ulong*)src), Vector256.Load((ulong*)(src + 8))), (uint*)dst);
}
