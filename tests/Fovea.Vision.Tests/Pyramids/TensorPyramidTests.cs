using Fovea.Vision.Tests.Oracle;

namespace Fovea.Vision.Tests;

/// <summary>The tensor-level pyramids: OpenCV-exact, float64 equal to float32, exact adjoints, exact reconstruction, clear errors.</summary>
public class TensorPyramidTests
{
    public static TheoryData<int, int> Sizes => new() { { 1, 1 }, { 1, 5 }, { 6, 1 }, { 2, 3 }, { 7, 5 }, { 16, 9 }, { 33, 20 } };

    private static Tensor Rand(int[] shape, ulong seed, DType dtype = DType.Float32) => Tensor.Rand(shape, new Generator(seed), dtype);

    private static double MaxDiff(Tensor a, Tensor b) => (a.To(DType.Float64) - b.To(DType.Float64)).Abs().Max().ToScalar();

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Float64PathEqualsFloat32Kernels(int w, int h)
    {
        var x = Rand([2, h, w], 3);
        var x64 = x.To(DType.Float64);
        Assert.True(MaxDiff(Pyramids.PyrDown(x), Pyramids.PyrDown(x64)) <= 1e-6);
        foreach (int oh in new[] { 2 * h - 1, 2 * h, 2 * h + 1 })
            foreach (int ow in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
                Assert.True(MaxDiff(Pyramids.PyrUp(x, (oh, ow)), Pyramids.PyrUp(x64, (oh, ow))) <= 1e-6, $"{w}x{h} -> {ow}x{oh}");
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void BackwardIsTheExactAdjoint(int w, int h)
    {
        // <A x, g> = <x, Aᵀ g> for PyrDown and for PyrUp at an odd output size, in both dtypes.
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
            foreach (bool up in new[] { false, true })
            {
                var x = Rand([1, h, w], 5, dtype).RequiresGrad_();
                var y = up ? Pyramids.PyrUp(x, (2 * h + 1, 2 * w - 1)) : Pyramids.PyrDown(x);
                var g = Rand(y.Shape, 6, dtype);
                (y * g).Sum().Backward();
                double lhs = (y.Detach() * g).Sum().ToScalar(), rhs = (x.Detach() * x.Grad!).Sum().ToScalar();
                Assert.True(Math.Abs(lhs - rhs) <= (dtype == DType.Float64 ? 1e-12 : 1e-4) * Math.Max(1, Math.Abs(lhs)), $"{dtype} up={up}: {lhs} vs {rhs}");
            }
    }

    [Fact]
    public void ColourAndBatchEqualOpenCvPerPlane()
    {
        var x = Tensor.FromArray(OpenCvCases.ColourInput(), OpenCvCases.ColourShape);
        var down = Pyramids.PyrDown(x);
        var up = Pyramids.PyrUp(x, (OpenCvCases.ColourUpH, OpenCvCases.ColourUpW));
        Assert.Equal([2, 3, 7, 5], down.Shape);
        Assert.Equal([2, 3, 25, 21], up.Shape);
        OpenCvFixture.AssertClose(OpenCvCases.ColourDownKey, down.Shape, down.ToArray<float>(), 1e-5);
        OpenCvFixture.AssertClose(OpenCvCases.ColourUpKey, up.Shape, up.ToArray<float>(), 1e-5);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void LaplacianReconstructsExactlyAndFollowsOpenCvSizes(int w, int h)
    {
        var x = Rand([3, h, w], 11);
        var lap = Pyramids.LaplacianPyramid(x, 5);
        Assert.Equal(5, lap.Length);
        Assert.True(MaxDiff(Pyramids.Reconstruct(lap), x) <= 1e-5);
        int lw = w, lh = h;
        for (int i = 0; i < 5; i++, lw = (lw + 1) / 2, lh = (lh + 1) / 2)
            Assert.Equal([3, lh, lw], lap[i].Shape);
        Assert.Same(x, Pyramids.LaplacianPyramid(x, 1)[0]);
        var g = Pyramids.GaussianPyramid(x, 3);
        Assert.True(MaxDiff(g[1], Pyramids.PyrDown(x)) == 0);
    }

    public static TheoryData<int, int, int> FusedCases => new()
    {
        { 1, 1, 1 }, { 1, 1, 3 }, { 1, 13, 4 }, { 13, 1, 4 }, { 2, 3, 2 }, { 5, 7, 3 }, { 64, 64, 7 }, { 65, 33, 5 }, { 31, 2, 6 },
    };

    [Theory]
    [MemberData(nameof(FusedCases))]
    public void FusedPathEqualsTheDifferentiablePath(int w, int h, int levels)
    {
        // Untracked inputs take the fused PyrUpAdd passes; the same inputs requiring grad take the composed autograd graph.
        foreach (var dtype in new[] { DType.Float32, DType.Float64 })
        {
            var a = Rand([2, h, w], 21, dtype);
            var b = Rand([2, h, w], 22, dtype);
            var m = Rand([h, w], 23, dtype);
            Tensor Tracked(Tensor t) => t.Detach().RequiresGrad_();
            var fast = Pyramids.LaplacianPyramid(a, levels);
            var slow = Pyramids.LaplacianPyramid(Tracked(a), levels);
            Assert.Null(fast[0].GradFn);
            if (levels > 1) Assert.NotNull(slow[0].GradFn);
            for (int i = 0; i < levels; i++) Assert.True(MaxDiff(fast[i], slow[i]) == 0, $"{dtype} level {i}");
            Assert.True(MaxDiff(Pyramids.Reconstruct(fast), Pyramids.Reconstruct(slow)) == 0, $"{dtype} reconstruct");
            Assert.True(MaxDiff(Pyramids.Blend(a, b, m, levels), Pyramids.Blend(a, b, Tracked(m), levels)) == 0, $"{dtype} blend");
            using (GradMode.Disable())
                Assert.True(MaxDiff(Pyramids.Reconstruct(Pyramids.LaplacianPyramid(Tracked(a), levels)), Pyramids.Reconstruct(fast)) == 0);
        }
    }

    [Fact]
    public void DeepBlendMatchesBandwiseDefinitionAndSmoothsTheSeam()
    {
        int w = 256, h = 16, levels = 4;
        var a = Tensor.Ones([1, h, w]);
        var b = Tensor.Zeros(1, h, w);
        var mask = Tensor.Zeros(h, w);
        mask.Narrow(1, 0, w / 2).FillInPlace(1);
        var blended = Pyramids.Blend(a, b, mask, levels);

        // The definition written out with the public pieces: L = G·LA + (1 − G)·LB, collapsed.
        var la = Pyramids.LaplacianPyramid(a, levels);
        var lb = Pyramids.LaplacianPyramid(b, levels);
        var gm = Pyramids.GaussianPyramid(mask.Unsqueeze(0), levels);
        var expected = Pyramids.Reconstruct([.. Enumerable.Range(0, levels).Select(i => gm[i] * la[i] + (1 - gm[i]) * lb[i])]);
        Assert.True(MaxDiff(expected, blended) <= 1e-6);

        // Far from the seam the inputs come through; across it the step is spread over several pixels.
        var row = blended.Select(0, 0).Select(0, 10).ToArray<float>();
        Assert.Equal(1f, row[2], 3);
        Assert.Equal(0f, row[w - 3], 3);
        float mid = row[w / 2 - 1];
        Assert.InRange(mid, 0.2f, 0.8f);
        Assert.InRange(row[w / 2 - 3], mid, 1f);
    }

    [Fact]
    public void BlendWithOneLevelIsTheAlphaBlend()
    {
        var a = Rand([3, 9, 8], 1);
        var b = Rand([3, 9, 8], 2);
        var m = Rand([9, 8], 3);
        var expected = m * a + (1 - m) * b;
        Assert.True(MaxDiff(Pyramids.Blend(a, b, m, 1), expected) <= 1e-6);
    }

    [Fact]
    public void BlendRunsChannelByChannelAndHonoursPerChannelMasks()
    {
        int w = 21, h = 14, levels = 4;
        var a = Rand([3, h, w], 4);
        var b = Rand([3, h, w], 5);
        var m = Rand([3, h, w], 6);
        var ours = Pyramids.Blend(a, b, m, levels);
        for (int c = 0; c < 3; c++)
        {
            var one = Pyramids.Blend(a.Narrow(0, c, 1), b.Narrow(0, c, 1), m.Narrow(0, c, 1), levels);
            Assert.True(MaxDiff(one, ours.Narrow(0, c, 1)) == 0, $"channel {c}");
        }
        // A shared mask: [H, W] and [1, H, W] agree, and an all-ones mask returns a.
        var shared = m.Select(0, 0);
        Assert.True(MaxDiff(Pyramids.Blend(a, b, shared, levels), Pyramids.Blend(a, b, shared.Unsqueeze(0), levels)) == 0);
        Assert.True(MaxDiff(Pyramids.Blend(a, b, Tensor.Ones([h, w]), levels), a) <= 1e-5);
        // Batches broadcast the mask.
        var batch = Pyramids.Blend(Tensor.Stack([a, b]), Tensor.Stack([b, a]), shared, levels);
        Assert.True(MaxDiff(batch.Select(0, 0), Pyramids.Blend(a, b, shared, levels)) <= 1e-6);
    }

    [Fact]
    public void Float32GradientsThroughBlendMatchFloat64()
    {
        var a = Rand([2, 11, 7], 7);
        var b = Rand([2, 11, 7], 8);
        var m = Rand([11, 7], 9);
        Tensor[] Grads(DType d)
        {
            var xs = new[] { a, b, m }.Select(t => t.To(d).Detach().RequiresGrad_()).ToArray();
            Pyramids.Blend(xs[0], xs[1], xs[2], 3).Square().Sum().Backward();
            return xs.Select(x => x.Grad!).ToArray();
        }
        var g32 = Grads(DType.Float32);
        var g64 = Grads(DType.Float64);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(DType.Float32, g32[i].DType);
            Assert.True(MaxDiff(g32[i], g64[i]) <= 1e-4, $"input {i}");
        }
    }

    [Fact]
    public void BadInputsNameTheFunctionAndTheShapes()
    {
        var e = Assert.Throws<ShapeException>(() => Pyramids.PyrDown(Tensor.Zeros(5, 7)));
        Assert.Contains("pyr_down", e.Message);
        Assert.Contains("[5, 7]", e.Message);
        var u = Assert.Throws<ShapeException>(() => Pyramids.PyrUp(Tensor.Zeros(1, 4, 4), (10, 8)));
        Assert.Contains("[4, 4] -> [10, 8]", u.Message);
        var l = Assert.Throws<ArgumentOutOfRangeException>(() => Pyramids.LaplacianPyramid(Tensor.Zeros(1, 4, 4), 0));
        Assert.Contains("levels must be at least 1", l.Message);
        var m = Assert.Throws<ShapeException>(() => Pyramids.Blend(Tensor.Zeros(3, 4, 4), Tensor.Zeros(3, 4, 4), Tensor.Zeros(4, 5), 2));
        Assert.Contains("blend", m.Message);
        Assert.Contains("[4, 5]", m.Message);
        var ab = Assert.Throws<ShapeException>(() => Pyramids.Blend(Tensor.Zeros(3, 4, 4), Tensor.Zeros(1, 4, 4), Tensor.Zeros(4, 4), 2));
        Assert.Contains("[3, 4, 4] and [1, 4, 4]", ab.Message);
        var r = Assert.Throws<ShapeException>(() => Pyramids.Reconstruct([Tensor.Zeros(1, 8, 8), Tensor.Zeros(1, 2, 2)]));
        Assert.Contains("[1, 2, 2]", r.Message);
        Assert.Throws<DTypeException>(() => Pyramids.PyrDown(Tensor.Zeros([1, 4, 4], DType.Int32)));
    }
}
