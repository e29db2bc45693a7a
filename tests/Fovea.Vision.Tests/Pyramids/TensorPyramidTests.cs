using Fovea.Kernels.Pyramids;
using Fovea.Vision.Tests.Oracle;

namespace Fovea.Vision.Tests.Pyramids;

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
        Assert.True(MaxDiff(Vision.Pyramids.PyrDown(x), Vision.Pyramids.PyrDown(x64)) <= 1e-6);
        foreach (int oh in new[] { 2 * h - 1, 2 * h, 2 * h + 1 })
        foreach (int ow in new[] { 2 * w - 1, 2 * w, 2 * w + 1 })
            Assert.True(MaxDiff(Vision.Pyramids.PyrUp(x, (oh, ow)), Vision.Pyramids.PyrUp(x64, (oh, ow))) <= 1e-6, $"{w}x{h} -> {ow}x{oh}");
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
            var y = up ? Vision.Pyramids.PyrUp(x, (2 * h + 1, 2 * w - 1)) : Vision.Pyramids.PyrDown(x);
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
        var down = Vision.Pyramids.PyrDown(x);
        var up = Vision.Pyramids.PyrUp(x, (OpenCvCases.ColourUpH, OpenCvCases.ColourUpW));
        Assert.Equal([2, 3, 7, 5], down.Shape);
        Assert.Equal([2, 3, 25, 21], up.Shape);
        OpenCvFixture.AssertClose(OpenCvCases.ColourDownKey, down.Shape, down.ToArray<float>(), 1e-5);
        OpenCvFixture.AssertClose(OpenCvCases.ColourUpKey, up.Shape, up.ToArray<float>(), 1e-5);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void LaplacianReconstructsExactlyAndMatchesTheSpanKernel(int w, int h)
    {
        var x = Rand([3, h, w], 11);
        var lap = Vision.Pyramids.LaplacianPyramid(x, 5);
        Assert.Equal(5, lap.Length);
        Assert.True(MaxDiff(Vision.Pyramids.Reconstruct(lap), x) <= 1e-5);
        var layout = PyramidLayout.Create(w, h, 5);
        var storage = new float[layout.TotalLength];
        LaplacianPyramid.Build(x.Select(0, 1).ToArray<float>(), layout, storage);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal([3, layout.LevelHeight(i), layout.LevelWidth(i)], lap[i].Shape);
            Assert.True(OpenCvCases.MaxAbsDiff(layout.Level((ReadOnlySpan<float>)storage, i), lap[i].Select(0, 1).ToArray<float>()) <= 1e-6, $"level {i}");
        }
        Assert.Same(x, Vision.Pyramids.LaplacianPyramid(x, 1)[0]);
        var g = Vision.Pyramids.GaussianPyramid(x, 3);
        Assert.True(MaxDiff(g[1], Vision.Pyramids.PyrDown(x)) == 0);
    }

    [Fact]
    public void BlendWithOneLevelIsTheAlphaBlend()
    {
        var a = Rand([3, 9, 8], 1);
        var b = Rand([3, 9, 8], 2);
        var m = Rand([9, 8], 3);
        var expected = m * a + (1 - m) * b;
        Assert.True(MaxDiff(Vision.Pyramids.Blend(a, b, m, 1), expected) <= 1e-6);
    }

    [Fact]
    public void BlendEqualsTheSpanKernelPerChannelAndHonoursPerChannelMasks()
    {
        int w = 21, h = 14, levels = 4;
        var a = Rand([3, h, w], 4);
        var b = Rand([3, h, w], 5);
        var m = Rand([3, h, w], 6);
        var ours = Vision.Pyramids.Blend(a, b, m, levels);
        var theirs = new float[3 * h * w];
        PyramidBlend.BlendPlanes(a.ToArray<float>(), b.ToArray<float>(), m.ToArray<float>(), 3, w, h, levels, theirs);
        Assert.True(OpenCvCases.MaxAbsDiff(theirs, ours.ToArray<float>()) <= 1e-5);
        // A shared mask: [H, W] and [1, H, W] agree, and an all-ones mask returns a.
        var shared = m.Select(0, 0);
        Assert.True(MaxDiff(Vision.Pyramids.Blend(a, b, shared, levels), Vision.Pyramids.Blend(a, b, shared.Unsqueeze(0), levels)) == 0);
        Assert.True(MaxDiff(Vision.Pyramids.Blend(a, b, Tensor.Ones([h, w]), levels), a) <= 1e-5);
        // Batches broadcast the mask.
        var batch = Vision.Pyramids.Blend(Tensor.Stack([a, b]), Tensor.Stack([b, a]), shared, levels);
        Assert.True(MaxDiff(batch.Select(0, 0), Vision.Pyramids.Blend(a, b, shared, levels)) <= 1e-6);
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
            Vision.Pyramids.Blend(xs[0], xs[1], xs[2], 3).Square().Sum().Backward();
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
        var e = Assert.Throws<ShapeException>(() => Vision.Pyramids.PyrDown(Tensor.Zeros(5, 7)));
        Assert.Contains("pyr_down", e.Message);
        Assert.Contains("[5, 7]", e.Message);
        var u = Assert.Throws<ShapeException>(() => Vision.Pyramids.PyrUp(Tensor.Zeros(1, 4, 4), (10, 8)));
        Assert.Contains("[4, 4] -> [10, 8]", u.Message);
        var l = Assert.Throws<ArgumentOutOfRangeException>(() => Vision.Pyramids.LaplacianPyramid(Tensor.Zeros(1, 4, 4), 0));
        Assert.Contains("levels must be at least 1", l.Message);
        var m = Assert.Throws<ShapeException>(() => Vision.Pyramids.Blend(Tensor.Zeros(3, 4, 4), Tensor.Zeros(3, 4, 4), Tensor.Zeros(4, 5), 2));
        Assert.Contains("blend", m.Message);
        Assert.Contains("[4, 5]", m.Message);
        var ab = Assert.Throws<ShapeException>(() => Vision.Pyramids.Blend(Tensor.Zeros(3, 4, 4), Tensor.Zeros(1, 4, 4), Tensor.Zeros(4, 4), 2));
        Assert.Contains("[3, 4, 4] and [1, 4, 4]", ab.Message);
        var r = Assert.Throws<ShapeException>(() => Vision.Pyramids.Reconstruct([Tensor.Zeros(1, 8, 8), Tensor.Zeros(1, 2, 2)]));
        Assert.Contains("[1, 2, 2]", r.Message);
        Assert.Throws<DTypeException>(() => Vision.Pyramids.PyrDown(Tensor.Zeros([1, 4, 4], DType.Int32)));
    }
}
