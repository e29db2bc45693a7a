using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels.Simd;

/// <summary>
/// Which vector width the filtering, pyramid, FFT and matching kernels use. By default the widest the
/// hardware accelerates (512, then 256, else scalar). Tests force each path in turn: the Vector512 and
/// Vector256 APIs still work (element by element) where the hardware lacks them, so every path can be
/// checked against the plain reference on any machine.
/// </summary>
internal static class SimdWidth
{
    private static volatile int _forced;

    /// <summary>
    /// Test hook: 16 forces the Vector512 paths, 8 the Vector256 paths, 1 the scalar paths, 0 restores the default.
    /// </summary>
    internal static int Forced
    {
        get => _forced;
        set
        {
            if (value is not (0 or 1 or 8 or 16))
                throw new ArgumentOutOfRangeException(nameof(value), value, "Forced width must be 0, 1, 8 or 16.");
            _forced = value;
        }
    }

    // Both getters are read at the top of small inner loops (an FFT pass over a few columns, a strip row), and in
    // large methods the JIT's inlining budget ran out before them: NCC spent 2.3% of its time in the call.

    /// <summary>True when kernels should run their Vector512 path.</summary>
    public static bool Use512
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int f = _forced;
            return f == 0 ? Vector512.IsHardwareAccelerated : f == 16;
        }
    }

    /// <summary>True when kernels should run their Vector256 path (and not the Vector512 one).</summary>
    public static bool Use256
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            int f = _forced;
            return f == 0 ? !Vector512.IsHardwareAccelerated && Vector256.IsHardwareAccelerated : f == 8;
        }
    }
}
