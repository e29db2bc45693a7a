using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Kernels;

/// <summary>Software prefetch for GEMM tiles; a no-op where the hardware has no prefetch instruction exposed.</summary>
internal static unsafe class GemmPrefetch
{
    /// <summary>Prefetches every cache line of a <paramref name="rows"/> x <paramref name="cols"/> tile into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Tile<T>(T* c, nint ldc, int rows, int cols) where T : unmanaged
    {
        if (!Sse.IsSupported) return;
        nint lastByte = cols * sizeof(T) - 1;
        for (int r = 0; r < rows; r++)
        {
            byte* row = (byte*)(c + r * ldc);
            // Covers the row whatever its alignment: first line, every 64 bytes, and the line of the last byte.
            for (nint o = 0; o < lastByte; o += 64) Sse.Prefetch0(row + o);
            Sse.Prefetch0(row + lastByte);
        }
    }
}
