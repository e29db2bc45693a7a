using static Fovea.Kernels.Tests.GemmTestData;

namespace Fovea.Kernels.Tests;

/// <summary>
/// Thread-count independence (bit for bit), every micro-kernel variant (run through the software fallback
/// where the hardware lacks it), and argument validation.
/// </summary>
[Collection(nameof(ThreadSettingCollection))]
public class GemmThreadingAndVariantTests
{
    [Theory]
    [InlineData(300, 257, 513, false, false)]
    [InlineData(300, 257, 513, true, true)]
    [InlineData(129, 1000, 70, false, true)]
    [InlineData(5, 2000, 300, true, false)]   // short C: the threads split columns
    [InlineData(1000, 7, 300, false, false)]  // thin C: one partial column of tiles
    [InlineData(64, 64, 64, false, false)]
    [InlineData(1600, 600, 20, false, true)]  // two A blocks of rows and two B panels of columns
    public void Threaded_results_are_bit_identical_to_single_threaded(int m, int n, int k, bool ta, bool tb)
    {
        long savedThreshold = GemmTuning.SharedPanelMinMacs;
        try
        {
            // Both threaded strategies: one rectangle per thread, and shared A blocks with column-range items.
            GemmTuning.SharedPanelMinMacs = long.MaxValue;
            CheckThreadCountIndependence(m, n, k, ta, tb);
            GemmTuning.SharedPanelMinMacs = 0;
            CheckThreadCountIndependence(m, n, k, ta, tb);
        }
        finally
        {
            GemmTuning.SharedPanelMinMacs = savedThreshold;
        }
    }

    [Theory]
    [InlineData(256, 784, 64, true, false)]   // an MLP's first weight gradient at batch 64: row blocks, 22 + 21 tiles against 7 + 6 of 13
    [InlineData(128, 256, 64, true, false)]   // a tie of tiles, 64 rows a thread: row blocks
    [InlineData(96, 2048, 64, false, false)]  // a tie with 48 rows a thread: column blocks
    [InlineData(64, 4096, 32, false, false)]  // column blocks balance better
    [InlineData(130, 131, 384, false, true)]  // the deepest product of one K block, partial tiles on both edges
    public void Shallow_products_give_the_same_bits_on_either_grid(int m, int n, int k, bool ta, bool tb)
    {
        bool saved = GemmTuning.BalanceShallowProducts;
        long savedGrain = ParallelFor.MinMultiplyAddsPerThread;
        try
        {
            ParallelFor.MinMultiplyAddsPerThread = 1;
            foreach (bool balanced in new[] { true, false })
            {
                GemmTuning.BalanceShallowProducts = balanced;
                CheckThreadCountIndependence(m, n, k, ta, tb);
            }
        }
        finally
        {
            GemmTuning.BalanceShallowProducts = saved;
            ParallelFor.MinMultiplyAddsPerThread = savedGrain;
        }
    }

    [Fact]
    public void Shallow_products_split_into_the_grid_with_the_fewest_tiles_in_its_busiest_cell()
    {
        // AVX-512's 6x64 tile (KC 384): rows of C come in 6s, columns in 64s.
        Assert.Equal((2, 1), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 256, 784, 64));    // 22 x 13 tiles in the busiest cell against 43 x 7
        Assert.Equal((2, 1), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 128, 256, 64));    // 11 x 4 either way: row blocks of 64
        Assert.Equal((1, 2), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 96, 2048, 64));    // 8 x 32 either way, row blocks of 48 too thin
        Assert.Equal((1, 2), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 64, 4096, 32));    // 11 x 32 against 6 x 64
        Assert.Equal((2, 2), GemmDriver<float, SgemmKernel6x64>.GridFor(4, 512, 1000, 32));   // the square grid, 43 x 8 tiles; row blocks of 128 would leave 22 x 16
        Assert.Equal((1, 2), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 64, 400, 120));    // row blocks of 32 too thin, though 6 x 7 tiles is fewer than 11 x 4
        // Deeper than one K block: the squarest cells, as before (128 x 576 rather than 64 x 1152).
        Assert.Equal((1, 2), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 128, 1152, 4096));
        bool saved = GemmTuning.BalanceShallowProducts;
        try
        {
            GemmTuning.BalanceShallowProducts = false;
            Assert.Equal((1, 2), GemmDriver<float, SgemmKernel6x64>.GridFor(2, 256, 784, 64));
        }
        finally { GemmTuning.BalanceShallowProducts = saved; }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Shared_panel_path_matches_reference(bool ta, bool tb)
    {
        long savedThreshold = GemmTuning.SharedPanelMinMacs;
        int savedThreads = Parallelism.MaxDegreeOfParallelism;
        try
        {
            GemmTuning.SharedPanelMinMacs = 0;
            Parallelism.MaxDegreeOfParallelism = 3;
            foreach (var (m, n, k) in new[] { (150, 170, 300), (5, 3100, 20), (400, 9, 260), (13, 40, 4000), (1600, 600, 20) })
                GemmTests.CheckSgemm(m, n, k, ta, tb, pad: 2, alpha: 0.5f, beta: -1f, seed: m + n);
            GemmTests.CheckDgemm(150, 170, 300, ta, tb, pad: 1, alpha: 2.0, beta: 0.0, seed: 3);
        }
        finally
        {
            GemmTuning.SharedPanelMinMacs = savedThreshold;
            Parallelism.MaxDegreeOfParallelism = savedThreads;
        }
    }

    [Theory]
    [InlineData(1, 1, 256)]
    [InlineData(6, 25, 3001)]   // LeNet c1's weight gradient: 6 channels x 25 taps over a batch of pixels
    [InlineData(16, 150, 2047)] // LeNet c3's
    [InlineData(4, 5, 700)]     // partial tiles on both edges, k not a multiple of the vector width
    [InlineData(64, 64, 300)]
    [InlineData(1, 1000, 512)]  // a classifier at batch 1 (ResNet-18's): one row tile, however wide
    [InlineData(3, 130, 70)]
    [InlineData(2, 40, 700)]    // one row tile with k past a block and not a multiple of the vector width: all of k at once, then the tail
    public void Small_c_long_k_dot_product_path_matches_reference_and_is_thread_independent(int m, int n, int k)
    {
        Assert.True(GemmDotNT.Applies<float>(false, true, m, n, k) || !System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated);
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            foreach (int threads in new[] { 1, 3 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                GemmTests.CheckSgemm(m, n, k, false, true, pad: 3, alpha: 0.75f, beta: -0.5f, seed: m * n + k);
                GemmTests.CheckSgemm(m, n, k, false, true, pad: 0, alpha: 1f, beta: 0f, seed: k);
                GemmTests.CheckDgemm(m, n, k, false, true, pad: 1, alpha: -1.5, beta: 2.0, seed: m + k);
            }
            CheckThreadCountIndependence(m, n, k, false, true);
        }
        finally { Parallelism.MaxDegreeOfParallelism = saved; }
    }

    private static void CheckThreadCountIndependence(int m, int n, int k, bool ta, bool tb)
    {
        var rng = new Random(m + n + k);
        var (ar, ac) = Stored(ta, m, k);
        var (br, bc) = Stored(tb, k, n);
        var a = Random(rng, ar, ac, ac, 0f);
        var b = Random(rng, br, bc, bc, 0f);
        var c0 = Random(rng, m, n, n, 0f);
        var ad = Array.ConvertAll(a, x => (double)x);
        var bd = Array.ConvertAll(b, x => (double)x);
        var cd0 = Array.ConvertAll(c0, x => (double)x);

        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            float[]? first = null;
            double[]? firstD = null;
            foreach (int threads in new[] { 1, 2, 3, 4 })
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                var c = (float[])c0.Clone();
                var cd = (double[])cd0.Clone();
                Kernels.Gemm.Sgemm(ta, tb, m, n, k, 0.75f, a, ac, b, bc, 0.5f, c, n);
                Kernels.Gemm.Dgemm(ta, tb, m, n, k, 0.75, ad, ac, bd, bc, 0.5, cd, n);
                first ??= c;
                firstD ??= cd;
                Assert.True(first.AsSpan().SequenceEqual(c), $"float32 result on {threads} threads differs from 1 thread");
                Assert.True(firstD.AsSpan().SequenceEqual(cd), $"float64 result on {threads} threads differs from 1 thread");
            }
        }
        finally
        {
            Parallelism.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Steady_state_calls_do_not_allocate(int threads)
    {
        int saved = Parallelism.MaxDegreeOfParallelism;
        try
        {
            Parallelism.MaxDegreeOfParallelism = threads;
            int m = 200, n = 150, k = 300; // big enough for the threaded path at 2 threads
            var a = new float[m * k];
            var b = new float[k * n];
            var c = new float[m * n];
            var ad = new double[m * k];
            var bd = new double[k * n];
            var cd = new double[m * n];
            long least = long.MaxValue;
            for (int i = 0; i < 8; i++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                Kernels.Gemm.Sgemm(false, true, m, n, k, 1f, a, k, b, k, 0f, c, n);
                Kernels.Gemm.Dgemm(true, false, m, n, k, 1.0, ad, m, bd, n, 1.0, cd, n);
                // The first calls grow the pooled packing buffers; later ones must reuse them.
                if (i >= 3) least = Math.Min(least, GC.GetAllocatedBytesForCurrentThread() - before);
            }
            Assert.Equal(0, least);
        }
        finally
        {
            Parallelism.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [InlineData("Scalar")]
    [InlineData("Vector256")]
    [InlineData("Vector512")]
    [InlineData("Vector512Narrow")]
    public void Every_kernel_variant_matches_reference(string variant)
    {
        var kind = Enum.Parse<GemmKernelKind>(variant);
        // Small shapes: variants the hardware lacks run through the (slow) software vector fallback.
        // (13, 130, 400): two full 64-column slivers and a partial one, and two K blocks, for the wide tile.
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 35, 19), (13, 33, 260), (6, 32, 8), (13, 130, 400) })
        {
            foreach (var (ta, tb) in Transposes)
            {
                var rng = new Random(m * n + k);
                var (ar, ac) = Stored(ta, m, k);
                var (br, bc) = Stored(tb, k, n);
                int lda = ac + 1, ldb = bc + 2, ldc = n + 3;
                var a = Random(rng, ar, ac, lda, float.NaN);
                var b = Random(rng, br, bc, ldb, float.NaN);
                var c0 = Random(rng, m, n, ldc, 5f);
                var got = (float[])c0.Clone();
                var want = (float[])c0.Clone();
                Kernels.Gemm.SgemmWith(kind, ta, tb, m, n, k, 1.25f, a, lda, b, ldb, -0.5f, got, ldc);
                GemmReference.Sgemm(ta, tb, m, n, k, 1.25f, a, lda, b, ldb, -0.5f, want, ldc);
                AssertClose(got, want, c0, AbsProducts(ta, tb, m, n, k, a, lda, b, ldb), m, n, k, ldc, 1.25, -0.5, 1.2e-7, $"{kind} float32 {m}x{n}x{k}");

                var ad = Array.ConvertAll(a, x => (double)x);
                var bd = Array.ConvertAll(b, x => (double)x);
                var cd0 = Array.ConvertAll(c0, x => (double)x);
                var gotD = (double[])cd0.Clone();
                var wantD = (double[])cd0.Clone();
                Kernels.Gemm.DgemmWith(kind, ta, tb, m, n, k, 1.25, ad, lda, bd, ldb, 0.0, gotD, ldc);
                GemmReference.Dgemm(ta, tb, m, n, k, 1.25, ad, lda, bd, ldb, 0.0, wantD, ldc);
                AssertClose(gotD, wantD, cd0, AbsProducts(ta, tb, m, n, k, ad, lda, bd, ldb), m, n, k, ldc, 1.25, 0.0, 2.3e-16, $"{kind} float64 {m}x{n}x{k}");
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public unsafe void Short_tiles_of_the_256_bit_kernel_match_the_reference_and_leave_the_other_rows(int rows)
    {
        // Depths around the unrolled steps (4 for one row, 2 for two or three) and their tails; a packed A sliver keeps
        // MR = 6 values a step, of which the short tile reads its first rows only.
        foreach (int kc in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 67, 128, 131 })
        {
            foreach (var (alpha, beta) in new[] { (1f, 0f), (1f, 1f), (1.25f, -0.5f) })
            {
                var rng = new Random(kc * 7 + rows);
                const int ldc = 19;
                var a = new float[6 * kc];
                var b = new float[16 * kc];
                for (int i = 0; i < a.Length; i++) a[i] = rng.NextSingle() * 2 - 1;
                for (int i = 0; i < b.Length; i++) b[i] = rng.NextSingle() * 2 - 1;
                var c = new float[6 * ldc];
                for (int i = 0; i < c.Length; i++) c[i] = rng.NextSingle() * 2 - 1;
                var c0 = (float[])c.Clone();
                if (beta == 0f)
                    for (int r = 0; r < rows; r++) c[r * ldc + 3] = float.NaN; // C is not read when beta is 0
                fixed (float* pa = a, pb = b, pc = c)
                    SgemmKernel6x16.RunFirstRows(rows, kc, pa, pb, pc, ldc, alpha, beta);
                for (int r = 0; r < 6; r++)
                    for (int j = 0; j < ldc; j++)
                    {
                        int at = r * ldc + j;
                        if (r >= rows || j >= 16)
                        {
                            Assert.Equal(c0[at], c[at]);
                            continue;
                        }
                        double sum = 0, abs = 0;
                        for (int p = 0; p < kc; p++)
                        {
                            sum += (double)a[p * 6 + r] * b[p * 16 + j];
                            abs += Math.Abs((double)a[p * 6 + r] * b[p * 16 + j]);
                        }
                        double want = alpha * sum + beta * c0[at];
                        double bound = 2 * (kc + 2) * 6e-8 * (Math.Abs(alpha) * abs + Math.Abs(beta * c0[at])) + 1e-30;
                        Assert.True(Math.Abs(c[at] - want) <= bound, $"rows {rows}, kc {kc}, alpha {alpha}, beta {beta}: C[{r}, {j}] = {c[at]}, expected {want} within {bound}");
                    }
            }
        }
    }

    [Theory]
    [InlineData(16)]
    [InlineData(64)]
    public unsafe void Tiles_reading_their_rows_in_place_give_the_bits_of_the_packed_tiles(int nr)
    {
        // RunInputRows (the stride-2 convolution's phase planes) reads step p's 6 values at plane + offsets[p]; Run reads
        // them from a packed sliver. The same values in the same order make the same sums, bit for bit, for either
        // beta, at depths around Run's unrolled steps and the K blocks the convolution uses.
        foreach (int kc in new[] { 1, 2, 3, 67, 116, 128 })
        {
            foreach (float beta in new[] { 0f, 1f })
            {
                var rng = new Random(kc * 31 + nr);
                int ldc = nr + 5;
                var plane = new float[4096];
                for (int i = 0; i < plane.Length; i++) plane[i] = rng.NextSingle() * 2 - 1;
                var offsets = new int[kc];
                var packed = new float[6 * kc];
                for (int q = 0; q < kc; q++)
                {
                    offsets[q] = rng.Next(plane.Length - 6);
                    for (int r = 0; r < 6; r++) packed[q * 6 + r] = plane[offsets[q] + r];
                }
                var b = new float[nr * kc];
                for (int i = 0; i < b.Length; i++) b[i] = rng.NextSingle() * 2 - 1;
                var fromPacked = new float[6 * ldc];
                for (int i = 0; i < fromPacked.Length; i++) fromPacked[i] = rng.NextSingle() * 2 - 1;
                var inPlace = (float[])fromPacked.Clone();
                fixed (float* pp = packed, pl = plane, pb = b, c1 = fromPacked, c2 = inPlace)
                fixed (int* po = offsets)
                {
                    if (nr == 16)
                    {
                        SgemmKernel6x16.Run(kc, pp, pb, c1, ldc, 1f, beta);
                        SgemmKernel6x16.RunInputRows<Const1>(kc, pl, po, pb, c2, ldc, beta);
                    }
                    else
                    {
                        SgemmKernel6x64.Run(kc, pp, pb, c1, ldc, 1f, beta);
                        SgemmKernel6x64.RunInputRows(kc, pl, po, pb, c2, ldc, beta);
                    }
                }
                for (int i = 0; i < inPlace.Length; i++)
                    Assert.True(BitConverter.SingleToInt32Bits(fromPacked[i]) == BitConverter.SingleToInt32Bits(inPlace[i]),
                        $"{nr} columns, kc {kc}, beta {beta}: C[{i / ldc}, {i % ldc}] = {inPlace[i]} in place, {fromPacked[i]} packed");
            }
        }
    }

    [Fact]
    public void Selected_kernel_matches_the_hardware()
    {
        var expected = System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Avx512F.IsSupported
            ? GemmKernelKind.Vector512
            : System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && System.Runtime.Intrinsics.X86.Fma.IsSupported
                ? GemmKernelKind.Vector256
                : GemmKernelKind.Scalar;
        Assert.Equal(expected, Kernels.Gemm.Selected);
    }

    [Theory]
    [InlineData(-1, 2, 2, 2, 2, 2, "m must be >= 0")]
    [InlineData(2, 2, -3, 2, 2, 2, "k must be >= 0")]
    [InlineData(2, 3, 4, 3, 3, 3, "lda must be >= the stored row width of A (2 x 4), got lda = 3 < 4")]
    [InlineData(2, 3, 4, 4, 2, 3, "ldb must be >= the stored row width of B (4 x 3), got ldb = 2 < 3")]
    [InlineData(2, 3, 4, 4, 3, 2, "ldc must be >= the stored row width of C (2 x 3), got ldc = 2 < 3")]
    public void Bad_arguments_throw_with_clear_messages(int m, int n, int k, int lda, int ldb, int ldc, string message)
    {
        var ex = Assert.ThrowsAny<ArgumentException>(() =>
            Kernels.Gemm.Sgemm(false, false, m, n, k, 1f, new float[64], lda, new float[64], ldb, 0f, new float[64], ldc));
        Assert.Contains(message, ex.Message);
        Assert.StartsWith("Sgemm:", ex.Message);
    }

    [Fact]
    public void Short_spans_throw_naming_the_operand_and_the_needed_length()
    {
        var ex = Assert.Throws<ArgumentException>(() =>
            Kernels.Gemm.Sgemm(false, false, 3, 4, 5, 1f, new float[14], 5, new float[20], 4, 0f, new float[12], 4));
        Assert.Contains("A (3 x 5) with lda = 5 needs at least 15 elements, got 14", ex.Message);
        Assert.Equal("a", ex.ParamName);

        ex = Assert.Throws<ArgumentException>(() =>
            Kernels.Gemm.Dgemm(false, true, 3, 4, 5, 1.0, new double[15], 5, new double[19], 5, 0.0, new double[12], 4));
        Assert.Contains("B (stored transposed as 4 x 5) with ldb = 5 needs at least 20 elements, got 19", ex.Message);

        ex = Assert.Throws<ArgumentException>(() =>
            GemmReference.Sgemm(true, false, 3, 4, 5, 1f, new float[15], 3, new float[20], 4, 0f, new float[11], 4));
        Assert.Contains("C (3 x 4) with ldc = 4 needs at least 12 elements, got 11", ex.Message);
    }
}

/// <summary>Tests that change <see cref="Parallelism.MaxDegreeOfParallelism"/> run one at a time.</summary>
[CollectionDefinition(nameof(ThreadSettingCollection), DisableParallelization = true)]
public class ThreadSettingCollection;
