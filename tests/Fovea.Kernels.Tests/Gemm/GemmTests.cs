using static Fovea.Kernels.Tests.GemmTestData;

namespace Fovea.Kernels.Tests;

/// <summary>The fast GEMM against <see cref="GemmReference"/> over shapes x layouts x scalars, both precisions.</summary>
public class GemmTests
{
    private const double EpsF = 1.2e-7; // float32 unit round-off (2^-23)
    private const double EpsD = 2.3e-16;

    public static TheoryData<int, int, int, bool, bool> ShapeLayouts()
    {
        var data = new TheoryData<int, int, int, bool, bool>();
        foreach (var (m, n, k) in Shapes)
            foreach (var (ta, tb) in Transposes)
                data.Add(m, n, k, ta, tb);
        return data;
    }

    [Theory]
    [MemberData(nameof(ShapeLayouts))]
    public void Sgemm_matches_reference(int m, int n, int k, bool ta, bool tb) =>
        CheckSgemm(m, n, k, ta, tb, pad: 0, alpha: 1f, beta: 0f, seed: m * 7919 + n * 31 + k);

    [Theory]
    [MemberData(nameof(ShapeLayouts))]
    public void Dgemm_matches_reference(int m, int n, int k, bool ta, bool tb) =>
        CheckDgemm(m, n, k, ta, tb, pad: 0, alpha: 1.0, beta: 0.0, seed: m * 7919 + n * 31 + k);

    [Theory]
    [InlineData(1f, 0f)]
    [InlineData(2.5f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(-0.5f, 0.75f)]
    [InlineData(0f, 2f)]
    [InlineData(0f, 0f)]
    [InlineData(1.5f, -1f)]
    public void Sgemm_alpha_beta_and_padded_strides(float alpha, float beta)
    {
        foreach (var (ta, tb) in Transposes)
        {
            CheckSgemm(23, 37, 300, ta, tb, pad: 3, alpha, beta, seed: 11);
            CheckSgemm(7, 5, 2, ta, tb, pad: 1, alpha, beta, seed: 12);
        }
    }

    [Theory]
    [InlineData(1.0, 0.0)]
    [InlineData(-2.0, 0.5)]
    [InlineData(0.0, 3.0)]
    public void Dgemm_alpha_beta_and_padded_strides(double alpha, double beta)
    {
        foreach (var (ta, tb) in Transposes)
            CheckDgemm(19, 41, 270, ta, tb, pad: 5, alpha, beta, seed: 13);
    }

    [Fact]
    public void Beta_zero_ignores_NaN_in_C()
    {
        foreach (var (ta, tb) in Transposes)
        {
            foreach (var (m, n, k) in new[] { (13, 35, 300), (6, 16, 4), (1, 1, 1), (4, 3, 0) })
            {
                var rng = new Random(5);
                var (ar, ac) = Stored(ta, m, k);
                var (br, bc) = Stored(tb, k, n);
                var a = Random(rng, ar, ac, ac, 0f);
                var b = Random(rng, br, bc, bc, 0f);
                var c = new float[m * n];
                c.AsSpan().Fill(float.NaN);
                var d = new double[m * n];
                d.AsSpan().Fill(double.NaN);
                Kernels.Gemm.Sgemm(ta, tb, m, n, k, 1f, a, ac, b, bc, 0f, c, n);
                Kernels.Gemm.Dgemm(ta, tb, m, n, k, 1.0, Array.ConvertAll(a, x => (double)x), ac,
                    Array.ConvertAll(b, x => (double)x), bc, 0.0, d, n);
                Assert.All(c, x => Assert.True(float.IsFinite(x), $"NaN leaked through beta = 0 ({m}x{n}x{k}, {ta}, {tb})"));
                Assert.All(d, x => Assert.True(double.IsFinite(x)));
            }
        }
    }

    [Fact]
    public void K_zero_scales_C_by_beta()
    {
        float[] c = [1f, 2f, 3f, 4f, 5f, 6f];
        Kernels.Gemm.Sgemm(false, false, 2, 3, 0, 1f, [], 0, [], 3, 0.5f, c, 3);
        Assert.Equal([0.5f, 1f, 1.5f, 2f, 2.5f, 3f], c);
        c.AsSpan().Fill(float.NaN);
        Kernels.Gemm.Sgemm(true, true, 2, 3, 0, 1f, [], 2, [], 0, 0f, c, 3);
        Assert.Equal(new float[6], c);
    }

    [Fact]
    public void Empty_m_or_n_leaves_C_alone()
    {
        float[] c = [7f, 8f];
        Kernels.Gemm.Sgemm(false, false, 0, 2, 3, 1f, [], 3, new float[6], 2, 0f, c, 2);
        Kernels.Gemm.Sgemm(false, false, 2, 0, 3, 1f, new float[6], 3, [], 0, 0f, c, 0);
        Assert.Equal([7f, 8f], c);
    }

    [Fact]
    public void Reference_agrees_with_a_hand_computed_product()
    {
        // [1 2 3; 4 5 6] @ [7 8; 9 10; 11 12] = [58 64; 139 154]
        float[] a = [1, 2, 3, 4, 5, 6], b = [7, 8, 9, 10, 11, 12];
        var c = new float[] { 1, 1, 1, 1 };
        GemmReference.Sgemm(false, false, 2, 2, 3, 1f, a, 3, b, 2, 10f, c, 2);
        Assert.Equal([68f, 74f, 149f, 164f], c);
        var f = new float[4];
        Kernels.Gemm.Sgemm(false, false, 2, 2, 3, 1f, a, 3, b, 2, 0f, f, 2);
        Assert.Equal([58f, 64f, 139f, 154f], f);
        // Aᵀ stored 3 x 2 gives the same product.
        float[] at = [1, 4, 2, 5, 3, 6];
        Kernels.Gemm.Sgemm(true, false, 2, 2, 3, 1f, at, 2, b, 2, 0f, f, 2);
        Assert.Equal([58f, 64f, 139f, 154f], f);
    }

    internal static void CheckSgemm(int m, int n, int k, bool ta, bool tb, int pad, float alpha, float beta, int seed)
    {
        var rng = new Random(seed);
        var (ar, ac) = Stored(ta, m, k);
        var (br, bc) = Stored(tb, k, n);
        int lda = ac + pad, ldb = bc + pad, ldc = n + pad;
        var a = Random(rng, ar, ac, lda, float.NaN);
        var b = Random(rng, br, bc, ldb, float.NaN);
        var c0 = Random(rng, m, n, ldc, 123f);
        var got = (float[])c0.Clone();
        var want = (float[])c0.Clone();
        Kernels.Gemm.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc);
        GemmReference.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
        var abs = AbsProducts(ta, tb, m, n, k, a, lda, b, ldb);
        AssertClose(got, want, c0, abs, m, n, k, ldc, alpha, beta, EpsF, $"Sgemm {m}x{n}x{k} ta={ta} tb={tb} pad={pad} a={alpha} b={beta}");
    }

    internal static void CheckDgemm(int m, int n, int k, bool ta, bool tb, int pad, double alpha, double beta, int seed)
    {
        var rng = new Random(seed);
        var (ar, ac) = Stored(ta, m, k);
        var (br, bc) = Stored(tb, k, n);
        int lda = ac + pad, ldb = bc + pad, ldc = n + pad;
        var a = Random(rng, ar, ac, lda, double.NaN);
        var b = Random(rng, br, bc, ldb, double.NaN);
        var c0 = Random(rng, m, n, ldc, 123.0);
        var got = (double[])c0.Clone();
        var want = (double[])c0.Clone();
        Kernels.Gemm.Dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc);
        GemmReference.Dgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
        var abs = AbsProducts(ta, tb, m, n, k, a, lda, b, ldb);
        AssertClose(got, want, c0, abs, m, n, k, ldc, alpha, beta, EpsD, $"Dgemm {m}x{n}x{k} ta={ta} tb={tb} pad={pad} a={alpha} b={beta}");
    }
}
