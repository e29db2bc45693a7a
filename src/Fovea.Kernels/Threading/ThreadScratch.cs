using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// The kernels' per-thread work buffers: a [ThreadStatic] array slot that only grows, pinned so a raw pointer into it
/// stays valid, and aligned to 64 bytes (a cache line, a 512-bit vector). Repeated calls allocate nothing.
/// </summary>
internal static unsafe class ThreadScratch
{
    /// <summary>
    /// At least <paramref name="length"/> floats of <paramref name="slot"/> (a [ThreadStatic] field of the caller),
    /// 64-byte aligned; the array is replaced by a larger one when it is too short. The contents are whatever the last
    /// user of this thread's slot left there.
    /// </summary>
    public static float* Floats(ref float[]? slot, long length)
    {
        // 16 floats more, so the aligned start still leaves length floats.
        if (slot is null || slot.Length < length + 16)
            slot = GC.AllocateUninitializedArray<float>(checked((int)(length + 16)), pinned: true);
        return (float*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(slot)) + 63) & ~(nint)63);
    }
}
