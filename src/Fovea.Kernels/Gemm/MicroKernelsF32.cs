using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Fovea.Kernels;

// Float32 micro-kernels. Each keeps its whole C tile in registers for the full kc loop; the only
// memory traffic per step is one packed B row (NR values) and MR broadcasts from the packed A sliver.
// They use the cross-platform Vector256/Vector512 API (FusedMultiplyAdd becomes one vfmadd when the
// hardware has FMA), which also lets tests run every variant on any machine through the software
// fallback; Gemm only *selects* a variant for speed when the hardware accelerates it.

/// <summary>AVX2 + FMA tile: 6 rows x 16 columns = 12 ymm accumulators, 2 B loads, 1 broadcast (15 of 16 registers).</summary>
internal readonly unsafe struct SgemmKernel6x16 : IMicroKernel<float>
{
    public static int MR => 6;
    public static int NR => 16;
    // A sliver 6 x 256 floats = 6 KiB stays in the 32 KiB L1d while B slivers (16 KiB each) stream by.
    public static int KC => 256;
    // A block 1536 x 256 floats = 1.5 MiB in L3.
    public static int MC => 1536;
    // B panel 256 x 192 floats = 192 KiB: inside even a 256 KiB L2.
    public static int NC => 192;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        // The C tile is touched once per KC block, long after it left the caches; start fetching its rows now
        // so the misses overlap the FMA loop instead of stalling the stores at the end.
        GemmPrefetch.Tile(c, ldc, 6, 16);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // Unrolled by two so loop control is amortised over 24 FMAs.
        int p = 0;
        for (; p + 2 <= kc; p += 2)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            av = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            b0 = Vector256.Load(b + 16); b1 = Vector256.Load(b + 24);
            av = Vector256.Create(a[6]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[7]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[8]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[9]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[10]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[11]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
            a += 12;
            b += 32;
        }
        if (p < kc)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            av = Vector256.Create(a[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(a[1]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(a[2]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(a[3]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(a[4]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(a[5]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
        }

        Vector256<float> va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            // BLAS semantics: C's old contents (even NaN) are not read.
            (c00 * va).Store(c); (c01 * va).Store(c + 8); c += ldc;
            (c10 * va).Store(c); (c11 * va).Store(c + 8); c += ldc;
            (c20 * va).Store(c); (c21 * va).Store(c + 8); c += ldc;
            (c30 * va).Store(c); (c31 * va).Store(c + 8); c += ldc;
            (c40 * va).Store(c); (c41 * va).Store(c + 8); c += ldc;
            (c50 * va).Store(c); (c51 * va).Store(c + 8);
        }
        else
        {
            Vector256<float> vb = Vector256.Create(beta);
            Update(c, c00, c01, va, vb); c += ldc;
            Update(c, c10, c11, va, vb); c += ldc;
            Update(c, c20, c21, va, vb); c += ldc;
            Update(c, c30, c31, va, vb); c += ldc;
            Update(c, c40, c41, va, vb); c += ldc;
            Update(c, c50, c51, va, vb);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb)
    {
        Vector256.FusedMultiplyAdd(x0, va, Vector256.Load(c) * vb).Store(c);
        Vector256.FusedMultiplyAdd(x1, va, Vector256.Load(c + 8) * vb).Store(c + 8);
    }

    /// <summary>
    /// <see cref="Run"/> with A read in place instead of packed: step p's 6 values are the floats at
    /// <paramref name="a"/> + <paramref name="rowOffsets"/>[p] + i·<typeparamref name="TSpacing"/> (i &lt; 6), and alpha
    /// is 1: the AVX2 form of <see cref="SgemmKernel6x64.RunInputRows"/>, for the stride-2 convolution on phase planes
    /// (<see cref="PhaseGridConv"/>, consecutive floats) and the channel-major direct convolution's six pixels of one
    /// output row (<see cref="DirectConv"/>, the window's column stride apart): 6 broadcasts from one address at constant
    /// displacements, 2 aligned loads of the packed weights, 12 FMAs a step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunInputRows<TSpacing>(int kc, float* a, int* rowOffsets, float* b, float* c, nint ldc, float beta)
        where TSpacing : struct, IConstant
    {
        GemmPrefetch.Tile(c, ldc, 6, 16);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, b += 16)
        {
            float* row = a + rowOffsets[p];
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            av = Vector256.Create(row[0]); c00 = Vector256.FusedMultiplyAdd(av, b0, c00); c01 = Vector256.FusedMultiplyAdd(av, b1, c01);
            av = Vector256.Create(row[TSpacing.Value]); c10 = Vector256.FusedMultiplyAdd(av, b0, c10); c11 = Vector256.FusedMultiplyAdd(av, b1, c11);
            av = Vector256.Create(row[2 * TSpacing.Value]); c20 = Vector256.FusedMultiplyAdd(av, b0, c20); c21 = Vector256.FusedMultiplyAdd(av, b1, c21);
            av = Vector256.Create(row[3 * TSpacing.Value]); c30 = Vector256.FusedMultiplyAdd(av, b0, c30); c31 = Vector256.FusedMultiplyAdd(av, b1, c31);
            av = Vector256.Create(row[4 * TSpacing.Value]); c40 = Vector256.FusedMultiplyAdd(av, b0, c40); c41 = Vector256.FusedMultiplyAdd(av, b1, c41);
            av = Vector256.Create(row[5 * TSpacing.Value]); c50 = Vector256.FusedMultiplyAdd(av, b0, c50); c51 = Vector256.FusedMultiplyAdd(av, b1, c51);
        }
        if (beta == 0f)
        {
            c00.Store(c); c01.Store(c + 8); c += ldc;
            c10.Store(c); c11.Store(c + 8); c += ldc;
            c20.Store(c); c21.Store(c + 8); c += ldc;
            c30.Store(c); c31.Store(c + 8); c += ldc;
            c40.Store(c); c41.Store(c + 8); c += ldc;
            c50.Store(c); c51.Store(c + 8);
        }
        else
        {
            Vector256<float> va = Vector256<float>.One, vb = Vector256.Create(beta);
            Update(c, c00, c01, va, vb); c += ldc;
            Update(c, c10, c11, va, vb); c += ldc;
            Update(c, c20, c21, va, vb); c += ldc;
            Update(c, c30, c31, va, vb); c += ldc;
            Update(c, c40, c41, va, vb); c += ldc;
            Update(c, c50, c51, va, vb);
        }
    }

    /// <summary>
    /// Whether a GEMM whose last row tile holds <paramref name="rows"/> valid rows runs it as <see cref="RunFirstRows"/>:
    /// one to <see cref="MaxShortRows"/> rows (and <see cref="GemmTuning.ShortRowTiles"/>). The callers are the paths
    /// with pixels or Winograd tiles as the GEMM's rows (<see cref="PixelRowGemmConv{TKernel}"/>,
    /// <see cref="WinogradF2Conv"/>), where a ResNet's 7x7 planes at batch 1 are 49 rows: eight full tiles and one of a
    /// single row, 54 rows computed for 49 (AVX-512 takes a 7-row tile there, see <see cref="Conv2dKernels.SevenRowTiles"/>).
    /// Alone, with prepared weights, the two forms alternating call by call (medians of 1,350 calls each, two runs, a
    /// 2-vCPU AMD EPYC of the Zen 3 generation): ResNet-18's 512@7² layer 3.03–3.06 → 2.84–2.86 ms on one thread and
    /// 1.58–1.68 → 1.47–1.58 on two, its 256@14² → 512 stride-2 layer 0.79–0.81 → 0.74–0.76 on two.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TakesShortTile(int rows) => rows <= MaxShortRows && GemmTuning.ShortRowTiles;

    /// <summary>
    /// Most valid rows a short tile takes. With four or five the full tile wastes a third of a tile or less (196 rows:
    /// 198 computed), and it stays.
    /// </summary>
    public const int MaxShortRows = 3;

    /// <summary>
    /// The first <paramref name="rows"/> (1 to 3) rows of a tile whose packed A sliver still holds MR values a step:
    /// C = alpha · A·B + beta · C for those rows only. A GEMM with 49 rows (a ResNet's 7x7 planes at batch 1, as the
    /// pixel rows of <see cref="PixelRowGemmConv{TKernel}"/>) ends in a tile with one valid row; the full tile computes
    /// six, a ninth of the whole product for nothing. One row has only two accumulators, and an FMA's result is ready
    /// four cycles after it starts, so the steps are dealt round-robin to four sets of accumulators (two for two or three
    /// rows), summed pairwise at the end: each row's steps in a fixed order, whatever the thread count.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunFirstRows(int rows, int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Debug.Assert(rows is >= 1 and <= MaxShortRows, "a short tile holds one to three rows");
        if (rows == 1)
        {
            Vector256<float> p0 = default, p1 = default, q0 = default, q1 = default, r0 = default, r1 = default, s0 = default, s1 = default;
            int p = 0;
            for (; p + 4 <= kc; p += 4, a += 24, b += 64)
            {
                Vector256<float> av = Vector256.Create(a[0]);
                p0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b), p0); p1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 8), p1);
                av = Vector256.Create(a[6]);
                q0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 16), q0); q1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 24), q1);
                av = Vector256.Create(a[12]);
                r0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 32), r0); r1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 40), r1);
                av = Vector256.Create(a[18]);
                s0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 48), s0); s1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 56), s1);
            }
            for (; p < kc; p++, a += 6, b += 16)
            {
                Vector256<float> av = Vector256.Create(a[0]);
                p0 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b), p0); p1 = Vector256.FusedMultiplyAdd(av, Vector256.Load(b + 8), p1);
            }
            StoreRow(c, (p0 + q0) + (r0 + s0), (p1 + q1) + (r1 + s1), alpha, beta);
            return;
        }
        // Two or three rows: two sets of accumulators (even and odd steps), 8 or 12 sums.
        Vector256<float> e00 = default, e01 = default, e10 = default, e11 = default, e20 = default, e21 = default;
        Vector256<float> o00 = default, o01 = default, o10 = default, o11 = default, o20 = default, o21 = default;
        bool third = rows == 3;
        int k = 0;
        for (; k + 2 <= kc; k += 2, a += 12, b += 32)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            av = Vector256.Create(a[0]); e00 = Vector256.FusedMultiplyAdd(av, b0, e00); e01 = Vector256.FusedMultiplyAdd(av, b1, e01);
            av = Vector256.Create(a[1]); e10 = Vector256.FusedMultiplyAdd(av, b0, e10); e11 = Vector256.FusedMultiplyAdd(av, b1, e11);
            if (third) { av = Vector256.Create(a[2]); e20 = Vector256.FusedMultiplyAdd(av, b0, e20); e21 = Vector256.FusedMultiplyAdd(av, b1, e21); }
            b0 = Vector256.Load(b + 16); b1 = Vector256.Load(b + 24);
            av = Vector256.Create(a[6]); o00 = Vector256.FusedMultiplyAdd(av, b0, o00); o01 = Vector256.FusedMultiplyAdd(av, b1, o01);
            av = Vector256.Create(a[7]); o10 = Vector256.FusedMultiplyAdd(av, b0, o10); o11 = Vector256.FusedMultiplyAdd(av, b1, o11);
            if (third) { av = Vector256.Create(a[8]); o20 = Vector256.FusedMultiplyAdd(av, b0, o20); o21 = Vector256.FusedMultiplyAdd(av, b1, o21); }
        }
        if (k < kc)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8), av;
            av = Vector256.Create(a[0]); e00 = Vector256.FusedMultiplyAdd(av, b0, e00); e01 = Vector256.FusedMultiplyAdd(av, b1, e01);
            av = Vector256.Create(a[1]); e10 = Vector256.FusedMultiplyAdd(av, b0, e10); e11 = Vector256.FusedMultiplyAdd(av, b1, e11);
            if (third) { av = Vector256.Create(a[2]); e20 = Vector256.FusedMultiplyAdd(av, b0, e20); e21 = Vector256.FusedMultiplyAdd(av, b1, e21); }
        }
        StoreRow(c, e00 + o00, e01 + o01, alpha, beta);
        StoreRow(c + ldc, e10 + o10, e11 + o11, alpha, beta);
        if (third) StoreRow(c + 2 * ldc, e20 + o20, e21 + o21, alpha, beta);
    }

    /// <summary>One row of C from its two sums, as <see cref="Run"/> stores its rows (C's old values unread when beta is 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> x0, Vector256<float> x1, float alpha, float beta)
    {
        Vector256<float> va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            (x0 * va).Store(c);
            (x1 * va).Store(c + 8);
        }
        else
        {
            Update(c, x0, x1, va, Vector256.Create(beta));
        }
    }
}

/// <summary>
/// One row tile of a float32 GEMM whose rows are pixels or Winograd tiles, given how many of its MR rows are valid:
/// the kernel's full tile, or AVX2's short one where <see cref="SgemmKernel6x16.TakesShortTile"/> says so (alpha 1).
/// </summary>
internal static unsafe class RowTile
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Run<TKernel>(int validRows, int kc, float* a, float* b, float* c, nint ldc, float beta)
        where TKernel : struct, IMicroKernel<float>
    {
        if (typeof(TKernel) == typeof(SgemmKernel6x16) && SgemmKernel6x16.TakesShortTile(validRows))
            SgemmKernel6x16.RunFirstRows(validRows, kc, a, b, c, ldc, 1f, beta);
        else
            TKernel.Run(kc, a, b, c, ldc, 1f, beta);
    }
}

/// <summary>
/// AVX-512 tile: 6 rows x 32 columns = 12 zmm accumulators, the same shape as the AVX2 tile at twice the width.
/// Selected only when <see cref="Vector512.IsHardwareAccelerated"/>; block sizes keep the same byte footprints.
/// </summary>
internal readonly unsafe struct SgemmKernel6x32 : IMicroKernel<float>
{
    public static int MR => 6;
    public static int NR => 32;
    // A sliver 6 x 192 floats = 4.5 KiB in L1, B sliver 192 x 32 floats = 24 KiB (convolutions keep it in L1).
    public static int KC => 192;
    public static int MC => 1536;
    // B panel 192 x 512 floats = 384 KiB in L2.
    public static int NC => 512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        GemmPrefetch.Tile(c, ldc, 6, 32);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), av;
            av = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            a += 6;
            b += 32;
        }

        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool load = beta != 0f;
        Row(c, c00, c01, va, vb, load); c += ldc;
        Row(c, c10, c11, va, vb, load); c += ldc;
        Row(c, c20, c21, va, vb, load); c += ldc;
        Row(c, c30, c31, va, vb, load); c += ldc;
        Row(c, c40, c41, va, vb, load); c += ldc;
        Row(c, c50, c51, va, vb, load);
    }

    /// <summary>
    /// One 32-float row of C from its two accumulators: alpha·x, plus beta·C where <paramref name="load"/> (with beta 0,
    /// C is not read, so a NaN or uninitialised value there cannot leak into the result). Shared with the 7x32 tile.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Row(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> va, Vector512<float> vb, bool load)
    {
        if (load)
        {
            Vector512.FusedMultiplyAdd(x0, va, Vector512.Load(c) * vb).Store(c);
            Vector512.FusedMultiplyAdd(x1, va, Vector512.Load(c + 16) * vb).Store(c + 16);
        }
        else
        {
            (x0 * va).Store(c);
            (x1 * va).Store(c + 16);
        }
    }
}

/// <summary>
/// AVX-512 tile of 7 rows x 32 columns (14 zmm accumulators, 2 B loads and 7 broadcasts for 14 FMAs a step), for the
/// pixel-row convolution (<see cref="PixelRowGemmConv{TKernel}"/>) where the output pixels are a multiple of 7 and not
/// of 6: a 7x7 plane (a ResNet's last stage at batch 1, 49 pixels) fills 7 tiles exactly, where 6-row tiles compute 54
/// rows, 10% of them for nothing.
/// </summary>
internal readonly unsafe struct SgemmKernel7x32 : IMicroKernel<float>
{
    public static int MR => 7;
    public static int NR => 32;
    public static int KC => 192;
    public static int MC => 1344;
    public static int NC => 512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta) =>
        Run(kc, new PackedRows(a), b, c, ldc, alpha, beta);

    /// <summary>
    /// The tile with step p's 7 A values at <c>rows.At(p)[0 … 6]</c>: a packed sliver (<see cref="PackedRows"/>) or
    /// another layout of the same values (the pixel-row convolution reads them from the padded input), each built as
    /// its own specialisation, so either runs the same multiply-adds in the same order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TRows>(int kc, TRows rows, float* b, float* c, nint ldc, float alpha, float beta)
        where TRows : struct, ISevenRows
    {
        GemmPrefetch.Tile(c, ldc, 7, 32);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default;
        Vector512<float> c31 = default, c40 = default, c41 = default, c50 = default, c51 = default, c60 = default, c61 = default;
        for (int p = 0; p < kc; p++)
        {
            float* a = rows.At(p);
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16), av;
            av = Vector512.Create(a[0]); c00 = Vector512.FusedMultiplyAdd(av, b0, c00); c01 = Vector512.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]); c10 = Vector512.FusedMultiplyAdd(av, b0, c10); c11 = Vector512.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]); c20 = Vector512.FusedMultiplyAdd(av, b0, c20); c21 = Vector512.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]); c30 = Vector512.FusedMultiplyAdd(av, b0, c30); c31 = Vector512.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]); c40 = Vector512.FusedMultiplyAdd(av, b0, c40); c41 = Vector512.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]); c50 = Vector512.FusedMultiplyAdd(av, b0, c50); c51 = Vector512.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a[6]); c60 = Vector512.FusedMultiplyAdd(av, b0, c60); c61 = Vector512.FusedMultiplyAdd(av, b1, c61);
            b += 32;
        }

        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool load = beta != 0f;
        SgemmKernel6x32.Row(c, c00, c01, va, vb, load); c += ldc;
        SgemmKernel6x32.Row(c, c10, c11, va, vb, load); c += ldc;
        SgemmKernel6x32.Row(c, c20, c21, va, vb, load); c += ldc;
        SgemmKernel6x32.Row(c, c30, c31, va, vb, load); c += ldc;
        SgemmKernel6x32.Row(c, c40, c41, va, vb, load); c += ldc;
        SgemmKernel6x32.Row(c, c50, c51, va, vb, load); c += ldc;
        SgemmKernel6x32.Row(c, c60, c61, va, vb, load);
    }

    /// <summary>Where step p of a 7x32 tile finds its 7 A values (consecutive floats).</summary>
    internal interface ISevenRows
    {
        float* At(int p);
    }

    /// <summary>A packed 7-row sliver: step p's values at a + 7p.</summary>
    internal readonly struct PackedRows(float* a) : ISevenRows
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public float* At(int p) => a + 7 * p;
    }
}

/// <summary>
/// Wide AVX-512 tile: 6 rows x 64 columns = 24 zmm accumulators, 4 B loads and 1 broadcast per step (29 of 32
/// registers). Per step it issues 10 loads for 24 FMAs (the 6x32 tile: 8 for 12), so the two load ports never
/// limit the two FMA pipes, and a C tile of 6 rows x 4 cache lines keeps the rows that alias in L1 (a
/// power-of-two ldc puts every row in the same set) to six. The driver keeps the A sliver in L1 and streams the
/// B slivers from an L2-resident panel along C's rows. Block sizes measured on a 48 KiB L1d / 1.25 MiB L2 Xeon.
/// </summary>
internal readonly unsafe struct SgemmKernel6x64 : IMicroKernel<float>
{
    public static int MR => 6;
    public static int NR => 64;
    // A sliver 6 x 384 floats = 9 KiB stays in L1 while the B slivers stream by; deep blocks mean few passes over C.
    public static int KC => 384;
    // A block 3072 x 384 floats = 4.5 MiB in L3, shared by the threads: B is packed once per K block for m <= 3072.
    public static int MC => 3072;
    // B panel 384 x 512 floats = 768 KiB: inside a 1-2 MiB L2 next to the C lines passing through.
    public static int NC => 512;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        GemmPrefetch.Tile(c, ldc, 6, 64);
        Vector512<float> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default;
        Vector512<float> c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
        Vector512<float> c2_0 = default, c2_1 = default, c2_2 = default, c2_3 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c3_2 = default, c3_3 = default;
        Vector512<float> c4_0 = default, c4_1 = default, c4_2 = default, c4_3 = default;
        Vector512<float> c5_0 = default, c5_1 = default, c5_2 = default, c5_3 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> b2 = Vector512.Load(b + 32), b3 = Vector512.Load(b + 48), av;
            av = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            c0_2 = Vector512.FusedMultiplyAdd(av, b2, c0_2); c0_3 = Vector512.FusedMultiplyAdd(av, b3, c0_3);
            av = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            c1_2 = Vector512.FusedMultiplyAdd(av, b2, c1_2); c1_3 = Vector512.FusedMultiplyAdd(av, b3, c1_3);
            av = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            c2_2 = Vector512.FusedMultiplyAdd(av, b2, c2_2); c2_3 = Vector512.FusedMultiplyAdd(av, b3, c2_3);
            av = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            c3_2 = Vector512.FusedMultiplyAdd(av, b2, c3_2); c3_3 = Vector512.FusedMultiplyAdd(av, b3, c3_3);
            av = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            c4_2 = Vector512.FusedMultiplyAdd(av, b2, c4_2); c4_3 = Vector512.FusedMultiplyAdd(av, b3, c4_3);
            av = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            c5_2 = Vector512.FusedMultiplyAdd(av, b2, c5_2); c5_3 = Vector512.FusedMultiplyAdd(av, b3, c5_3);
            a += 6;
            b += 64;
        }
        Vector512<float> va = Vector512.Create(alpha);
        if (beta == 0f)
        {
            (c0_0 * va).Store(c); (c0_1 * va).Store(c + 16); (c0_2 * va).Store(c + 32); (c0_3 * va).Store(c + 48); c += ldc;
            (c1_0 * va).Store(c); (c1_1 * va).Store(c + 16); (c1_2 * va).Store(c + 32); (c1_3 * va).Store(c + 48); c += ldc;
            (c2_0 * va).Store(c); (c2_1 * va).Store(c + 16); (c2_2 * va).Store(c + 32); (c2_3 * va).Store(c + 48); c += ldc;
            (c3_0 * va).Store(c); (c3_1 * va).Store(c + 16); (c3_2 * va).Store(c + 32); (c3_3 * va).Store(c + 48); c += ldc;
            (c4_0 * va).Store(c); (c4_1 * va).Store(c + 16); (c4_2 * va).Store(c + 32); (c4_3 * va).Store(c + 48); c += ldc;
            (c5_0 * va).Store(c); (c5_1 * va).Store(c + 16); (c5_2 * va).Store(c + 32); (c5_3 * va).Store(c + 48);
        }
        else
        {
            Vector512<float> vb = Vector512.Create(beta);
            Update(c, c0_0, c0_1, c0_2, c0_3, va, vb); c += ldc;
            Update(c, c1_0, c1_1, c1_2, c1_3, va, vb); c += ldc;
            Update(c, c2_0, c2_1, c2_2, c2_3, va, vb); c += ldc;
            Update(c, c3_0, c3_1, c3_2, c3_3, va, vb); c += ldc;
            Update(c, c4_0, c4_1, c4_2, c4_3, va, vb); c += ldc;
            Update(c, c5_0, c5_1, c5_2, c5_3, va, vb);
        }
    }

    /// <summary>
    /// <see cref="Run"/> with B read in place instead of packed: step p's 64 values start at
    /// <paramref name="b"/> + <paramref name="rowOffsets"/>[p] (any alignment), and alpha is 1. The implicit GEMM's
    /// column-phase path (<see cref="ImplicitGemmConv{T, TKernel}"/>) points it at the rows of a strided window's phase
    /// planes, where each tap's 64 output pixels are 64 consecutive floats, so nothing is copied into a sliver first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunRows(int kc, float* a, float* b, int* rowOffsets, float* c, nint ldc, float beta)
    {
        GemmPrefetch.Tile(c, ldc, 6, 64);
        Vector512<float> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default;
        Vector512<float> c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
        Vector512<float> c2_0 = default, c2_1 = default, c2_2 = default, c2_3 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c3_2 = default, c3_3 = default;
        Vector512<float> c4_0 = default, c4_1 = default, c4_2 = default, c4_3 = default;
        Vector512<float> c5_0 = default, c5_1 = default, c5_2 = default, c5_3 = default;
        for (int p = 0; p < kc; p++)
        {
            float* row = b + rowOffsets[p];
            Vector512<float> b0 = Vector512.Load(row), b1 = Vector512.Load(row + 16);
            Vector512<float> b2 = Vector512.Load(row + 32), b3 = Vector512.Load(row + 48), av;
            av = Vector512.Create(a[0]); c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            c0_2 = Vector512.FusedMultiplyAdd(av, b2, c0_2); c0_3 = Vector512.FusedMultiplyAdd(av, b3, c0_3);
            av = Vector512.Create(a[1]); c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            c1_2 = Vector512.FusedMultiplyAdd(av, b2, c1_2); c1_3 = Vector512.FusedMultiplyAdd(av, b3, c1_3);
            av = Vector512.Create(a[2]); c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            c2_2 = Vector512.FusedMultiplyAdd(av, b2, c2_2); c2_3 = Vector512.FusedMultiplyAdd(av, b3, c2_3);
            av = Vector512.Create(a[3]); c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            c3_2 = Vector512.FusedMultiplyAdd(av, b2, c3_2); c3_3 = Vector512.FusedMultiplyAdd(av, b3, c3_3);
            av = Vector512.Create(a[4]); c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            c4_2 = Vector512.FusedMultiplyAdd(av, b2, c4_2); c4_3 = Vector512.FusedMultiplyAdd(av, b3, c4_3);
            av = Vector512.Create(a[5]); c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            c5_2 = Vector512.FusedMultiplyAdd(av, b2, c5_2); c5_3 = Vector512.FusedMultiplyAdd(av, b3, c5_3);
            a += 6;
        }
        if (beta == 0f)
        {
            c0_0.Store(c); c0_1.Store(c + 16); c0_2.Store(c + 32); c0_3.Store(c + 48); c += ldc;
            c1_0.Store(c); c1_1.Store(c + 16); c1_2.Store(c + 32); c1_3.Store(c + 48); c += ldc;
            c2_0.Store(c); c2_1.Store(c + 16); c2_2.Store(c + 32); c2_3.Store(c + 48); c += ldc;
            c3_0.Store(c); c3_1.Store(c + 16); c3_2.Store(c + 32); c3_3.Store(c + 48); c += ldc;
            c4_0.Store(c); c4_1.Store(c + 16); c4_2.Store(c + 32); c4_3.Store(c + 48); c += ldc;
            c5_0.Store(c); c5_1.Store(c + 16); c5_2.Store(c + 32); c5_3.Store(c + 48);
        }
        else
        {
            Vector512<float> va = Vector512<float>.One, vb = Vector512.Create(beta);
            Update(c, c0_0, c0_1, c0_2, c0_3, va, vb); c += ldc;
            Update(c, c1_0, c1_1, c1_2, c1_3, va, vb); c += ldc;
            Update(c, c2_0, c2_1, c2_2, c2_3, va, vb); c += ldc;
            Update(c, c3_0, c3_1, c3_2, c3_3, va, vb); c += ldc;
            Update(c, c4_0, c4_1, c4_2, c4_3, va, vb); c += ldc;
            Update(c, c5_0, c5_1, c5_2, c5_3, va, vb);
        }
    }

    /// <summary>
    /// <see cref="Run"/> with A read in place instead of packed: step p's 6 values are the 6 consecutive floats at
    /// <paramref name="a"/> + <paramref name="rowOffsets"/>[p], and alpha is 1. The stride-2 convolution on phase
    /// planes (<see cref="PhaseGridConv"/>) points it at 6 consecutive output points of a tap's phase plane, each
    /// broadcast as the packed A's values are, while B (the weights) is packed and loaded aligned.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunInputRows(int kc, float* a, int* rowOffsets, float* b, float* c, nint ldc, float beta)
    {
        GemmPrefetch.Tile(c, ldc, 6, 64);
        Vector512<float> c0_0 = default, c0_1 = default, c0_2 = default, c0_3 = default;
        Vector512<float> c1_0 = default, c1_1 = default, c1_2 = default, c1_3 = default;
        Vector512<float> c2_0 = default, c2_1 = default, c2_2 = default, c2_3 = default;
        Vector512<float> c3_0 = default, c3_1 = default, c3_2 = default, c3_3 = default;
        Vector512<float> c4_0 = default, c4_1 = default, c4_2 = default, c4_3 = default;
        Vector512<float> c5_0 = default, c5_1 = default, c5_2 = default, c5_3 = default;
        for (int p = 0; p < kc; p++)
        {
            float* row = a + rowOffsets[p];
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> b2 = Vector512.Load(b + 32), b3 = Vector512.Load(b + 48), av;
            av = Vector512.Create(row[0]); c0_0 = Vector512.FusedMultiplyAdd(av, b0, c0_0); c0_1 = Vector512.FusedMultiplyAdd(av, b1, c0_1);
            c0_2 = Vector512.FusedMultiplyAdd(av, b2, c0_2); c0_3 = Vector512.FusedMultiplyAdd(av, b3, c0_3);
            av = Vector512.Create(row[1]); c1_0 = Vector512.FusedMultiplyAdd(av, b0, c1_0); c1_1 = Vector512.FusedMultiplyAdd(av, b1, c1_1);
            c1_2 = Vector512.FusedMultiplyAdd(av, b2, c1_2); c1_3 = Vector512.FusedMultiplyAdd(av, b3, c1_3);
            av = Vector512.Create(row[2]); c2_0 = Vector512.FusedMultiplyAdd(av, b0, c2_0); c2_1 = Vector512.FusedMultiplyAdd(av, b1, c2_1);
            c2_2 = Vector512.FusedMultiplyAdd(av, b2, c2_2); c2_3 = Vector512.FusedMultiplyAdd(av, b3, c2_3);
            av = Vector512.Create(row[3]); c3_0 = Vector512.FusedMultiplyAdd(av, b0, c3_0); c3_1 = Vector512.FusedMultiplyAdd(av, b1, c3_1);
            c3_2 = Vector512.FusedMultiplyAdd(av, b2, c3_2); c3_3 = Vector512.FusedMultiplyAdd(av, b3, c3_3);
            av = Vector512.Create(row[4]); c4_0 = Vector512.FusedMultiplyAdd(av, b0, c4_0); c4_1 = Vector512.FusedMultiplyAdd(av, b1, c4_1);
            c4_2 = Vector512.FusedMultiplyAdd(av, b2, c4_2); c4_3 = Vector512.FusedMultiplyAdd(av, b3, c4_3);
            av = Vector512.Create(row[5]); c5_0 = Vector512.FusedMultiplyAdd(av, b0, c5_0); c5_1 = Vector512.FusedMultiplyAdd(av, b1, c5_1);
            c5_2 = Vector512.FusedMultiplyAdd(av, b2, c5_2); c5_3 = Vector512.FusedMultiplyAdd(av, b3, c5_3);
            b += 64;
        }
        if (beta == 0f)
        {
            c0_0.Store(c); c0_1.Store(c + 16); c0_2.Store(c + 32); c0_3.Store(c + 48); c += ldc;
            c1_0.Store(c); c1_1.Store(c + 16); c1_2.Store(c + 32); c1_3.Store(c + 48); c += ldc;
            c2_0.Store(c); c2_1.Store(c + 16); c2_2.Store(c + 32); c2_3.Store(c + 48); c += ldc;
            c3_0.Store(c); c3_1.Store(c + 16); c3_2.Store(c + 32); c3_3.Store(c + 48); c += ldc;
            c4_0.Store(c); c4_1.Store(c + 16); c4_2.Store(c + 32); c4_3.Store(c + 48); c += ldc;
            c5_0.Store(c); c5_1.Store(c + 16); c5_2.Store(c + 32); c5_3.Store(c + 48);
        }
        else
        {
            Vector512<float> va = Vector512<float>.One, vb = Vector512.Create(beta);
            Update(c, c0_0, c0_1, c0_2, c0_3, va, vb); c += ldc;
            Update(c, c1_0, c1_1, c1_2, c1_3, va, vb); c += ldc;
            Update(c, c2_0, c2_1, c2_2, c2_3, va, vb); c += ldc;
            Update(c, c3_0, c3_1, c3_2, c3_3, va, vb); c += ldc;
            Update(c, c4_0, c4_1, c4_2, c4_3, va, vb); c += ldc;
            Update(c, c5_0, c5_1, c5_2, c5_3, va, vb);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Update(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> x2, Vector512<float> x3,
        Vector512<float> va, Vector512<float> vb)
    {
        Vector512.FusedMultiplyAdd(x0, va, Vector512.Load(c) * vb).Store(c);
        Vector512.FusedMultiplyAdd(x1, va, Vector512.Load(c + 16) * vb).Store(c + 16);
        Vector512.FusedMultiplyAdd(x2, va, Vector512.Load(c + 32) * vb).Store(c + 32);
        Vector512.FusedMultiplyAdd(x3, va, Vector512.Load(c + 48) * vb).Store(c + 48);
    }
}

/// <summary>
/// Scalar tile for machines (or runs with <c>DOTNET_EnableHWIntrinsic=0</c>) without SIMD: 4 x 4 accumulators
/// in locals, plain multiply-add, so it stays correct and reasonably quick without any intrinsic.
/// </summary>
internal readonly unsafe struct SgemmKernelScalar4x4 : IMicroKernel<float>
{
    public static int MR => 4;
    public static int NR => 4;
    public static int KC => 256;
    public static int MC => 512;
    public static int NC => 256;

    public static void Run(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        float s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        float s20 = 0, s21 = 0, s22 = 0, s23 = 0, s30 = 0, s31 = 0, s32 = 0, s33 = 0;
        for (int p = 0; p < kc; p++)
        {
            float b0 = b[0], b1 = b[1], b2 = b[2], b3 = b[3];
            float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
            s00 += a0 * b0; s01 += a0 * b1; s02 += a0 * b2; s03 += a0 * b3;
            s10 += a1 * b0; s11 += a1 * b1; s12 += a1 * b2; s13 += a1 * b3;
            s20 += a2 * b0; s21 += a2 * b1; s22 += a2 * b2; s23 += a2 * b3;
            s30 += a3 * b0; s31 += a3 * b1; s32 += a3 * b2; s33 += a3 * b3;
            a += 4;
            b += 4;
        }
        Row(c, s00, s01, s02, s03, alpha, beta); c += ldc;
        Row(c, s10, s11, s12, s13, alpha, beta); c += ldc;
        Row(c, s20, s21, s22, s23, alpha, beta); c += ldc;
        Row(c, s30, s31, s32, s33, alpha, beta);
    }

    private static void Row(float* c, float x0, float x1, float x2, float x3, float alpha, float beta)
    {
        if (beta == 0f)
        {
            c[0] = alpha * x0; c[1] = alpha * x1; c[2] = alpha * x2; c[3] = alpha * x3;
        }
        else
        {
            c[0] = alpha * x0 + beta * c[0]; c[1] = alpha * x1 + beta * c[1];
            c[2] = alpha * x2 + beta * c[2]; c[3] = alpha * x3 + beta * c[3];
        }
    }
}
