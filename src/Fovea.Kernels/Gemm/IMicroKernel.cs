namespace Fovea.Kernels;

/// <summary>
/// A GEMM register-tile micro-kernel: computes one <c>MR x NR</c> tile of C from a packed A sliver
/// (<c>kc</c> steps of <c>MR</c> values) and a packed B sliver (<c>kc</c> steps of <c>NR</c> values), then
/// writes <c>C = alpha * acc + beta * C</c> (with <c>beta == 0</c> meaning "ignore C", as in BLAS).
/// The blocking sizes live beside the tile shape because they are tuned for it: the driver is generic
/// over the kernel struct, so the JIT specialises every loop with these as constants.
/// </summary>
internal unsafe interface IMicroKernel<T> where T : unmanaged
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int MR { get; }

    /// <summary>Columns of the register tile.</summary>
    static abstract int NR { get; }

    /// <summary>Depth of one packed block (the A sliver <c>MR x KC</c> should stay in L1 while B slivers stream by).</summary>
    static abstract int KC { get; }

    /// <summary>Rows of one packed A block (<c>MC x KC</c>, in L3, packed once per K block); a multiple of MR.</summary>
    static abstract int MC { get; }

    /// <summary>Columns of one packed B panel (<c>KC x NC</c> should stay in L2); a multiple of NR.</summary>
    static abstract int NC { get; }

    /// <summary>Runs the tile. <paramref name="c"/> points at the tile's top-left element.</summary>
    static abstract void Run(int kc, T* a, T* b, T* c, nint ldc, T alpha, T beta);
}
