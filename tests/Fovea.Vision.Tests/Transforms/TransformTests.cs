using Fovea.Vision.Transforms;

namespace Fovea.Vision.Tests.Transforms;

/// <summary><see cref="Normalize"/> and <see cref="RandomAffine"/> against hand-computed values.</summary>
public class TransformTests
{
    private static Tensor Image(double[] values, params int[] shape) => Tensor.FromArray(values, shape);

    private static double[] Values(Tensor t) => t.To(DType.Float64).ToArray<double>();

    private static void Close(double[] expected, double[] actual, double tol = 1e-12)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    [Fact]
    public void Normalize_subtracts_each_channels_mean_and_divides_by_its_std()
    {
        // Two images of two channels, 1x2 pixels each; channel 0 has mean 1, std 2, channel 1 mean 2, std 4.
        var batch = Image([1, 3, 2, 6, 5, -1, 10, 0], 2, 2, 1, 2);
        var y = new Normalize([1, 2], [2, 4]).Apply(batch, new Generator(0));
        Assert.Equal(DType.Float64, y.DType);
        Assert.Equal(new[] { 2, 2, 1, 2 }, y.Shape);
        Close([0, 1, 0, 1, 2, -1, 2, -0.5], Values(y));
    }

    [Fact]
    public void Normalize_with_one_value_applies_it_to_every_channel_and_keeps_float32()
    {
        var batch = Image([1, 0.5, 0, 1.5, 0.75, 0.25], 1, 3, 1, 2).To(DType.Float32);
        var y = new Normalize([0.5], [0.25]).Apply(batch, new Generator(0));
        Assert.Equal(DType.Float32, y.DType);
        Close([2, 0, -2, 4, 1, -1], Values(y), 1e-6);
    }

    [Fact]
    public void Normalize_keeps_its_own_copy_of_the_statistics()
    {
        double[] mean = [1], std = [2];
        var normalize = new Normalize(mean, std);
        mean[0] = 100;
        std[0] = 100;
        Close([1.5], Values(normalize.Apply(Image([4], 1, 1, 1, 1), new Generator(0))));
    }

    [Fact]
    public void Normalize_refuses_bad_statistics_and_bad_batches_with_the_reason()
    {
        Assert.Contains("same, non-zero length", Assert.Throws<ArgumentException>(() => new Normalize([0, 0], [1])).Message);
        Assert.Contains("same, non-zero length", Assert.Throws<ArgumentException>(() => new Normalize([], [])).Message);
        foreach (double bad in new[] { 0, -1, double.NaN, double.PositiveInfinity })
            Assert.Contains("std must be positive and finite", Assert.Throws<ArgumentException>(() => new Normalize([0], [bad])).Message);
        Assert.Contains("mean must be finite", Assert.Throws<ArgumentException>(() => new Normalize([double.NaN], [1])).Message);
        var normalize = new Normalize([0, 0, 0], [1, 1, 1]);
        var e = Assert.Throws<ShapeException>(() => normalize.Apply(Tensor.Zeros(2, 4, 3, 3), new Generator(0)));
        Assert.Contains("3 channel statistics for a batch [2, 4, 3, 3] with 4 channels", e.Message);
        Assert.Throws<ShapeException>(() => normalize.Apply(Tensor.Zeros(3, 3, 3), new Generator(0)));
        Assert.Throws<DTypeException>(() => normalize.Apply(Tensor.Zeros([1, 3, 2, 2], DType.Int32), new Generator(0)));
    }

    private static Tensor RandomBatch(DType dtype, int n, int c, int h, int w, ulong seed) =>
        Tensor.Randn([n, c, h, w], new Generator(seed), dtype);

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void RandomAffine_with_zero_ranges_is_the_identity(DType dtype)
    {
        var x = RandomBatch(dtype, 3, 2, 5, 7, 1);
        foreach (var affine in new[] { new RandomAffine(0), new RandomAffine(0, 0), new RandomAffine((0, 0)) })
        {
            var y = affine.Apply(x, new Generator(9));
            Assert.Equal(dtype, y.DType);
            Assert.Equal(Values(x), Values(y));
        }
    }

    [Fact]
    public void RandomAffine_is_deterministic_for_a_seed_and_differs_across_seeds()
    {
        var x = RandomBatch(DType.Float32, 4, 3, 8, 9, 2);
        var affine = new RandomAffine(30, 0.2);
        var a = Values(affine.Apply(x, new Generator(5)));
        Assert.Equal(a, Values(affine.Apply(x, new Generator(5))));
        Assert.NotEqual(a, Values(affine.Apply(x, new Generator(6))));
        // Each image draws its own angle and shift: four copies of one image do not come out alike.
        var copies = RandomBatch(DType.Float64, 1, 1, 8, 9, 3).Expand(4, 1, 8, 9);
        var y = affine.Apply(copies, new Generator(5));
        Assert.NotEqual(Values(y.Select(0, 0)), Values(y.Select(0, 1)));
    }

    [Fact]
    public void RandomAffine_turns_an_image_a_quarter_clockwise_for_90_degrees()
    {
        // 1 2 3        7 4 1
        // 4 5 6   ->   8 5 2
        // 7 8 9        9 6 3
        var x = Image([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        Close([7, 4, 1, 8, 5, 2, 9, 6, 3], Values(new RandomAffine((90, 90)).Apply(x, new Generator(0))), 1e-12);
        Close([3, 6, 9, 2, 5, 8, 1, 4, 7], Values(new RandomAffine((-90, -90)).Apply(x, new Generator(0))), 1e-12);
    }

    [Fact]
    public void RandomAffine_turns_a_non_square_image_half_way_about_its_centre()
    {
        // 2x4 image, centre (1.5, 0.5): 180 degrees maps pixel (x, y) to (3 - x, 1 - y), every pixel onto a pixel.
        var x = Image([1, 2, 3, 4, 5, 6, 7, 8], 1, 1, 2, 4).To(DType.Float32);
        Close([8, 7, 6, 5, 4, 3, 2, 1], Values(new RandomAffine((180, 180)).Apply(x, new Generator(0))), 1e-5);
    }

    [Fact]
    public void RandomAffine_samples_bilinearly_with_zeros_outside()
    {
        // 45 degrees on a 3x3 image: the centre stays; output (0, 0) reads source (1 − √2, 1), between the zero
        // outside the image (weight √2 − 1) and pixel (0, 1) = 4 (weight 2 − √2).
        var x = Image([1, 2, 3, 4, 5, 6, 7, 8, 9], 1, 1, 3, 3);
        var y = Values(new RandomAffine((45, 45)).Apply(x, new Generator(0)));
        Assert.Equal(5, y[4], 12);
        Assert.Equal((2 - Math.Sqrt(2)) * 4, y[0], 12);
    }

    [Fact]
    public void RandomAffine_translation_alone_shifts_by_whole_pixels_within_the_range()
    {
        int h = 4, w = 6;
        var x = RandomBatch(DType.Float64, 1, 1, h, w, 4);
        var src = Values(x);
        var affine = new RandomAffine(0, 0.5);
        bool sawShift = false;
        for (ulong seed = 0; seed < 20; seed++)
        {
            var y = Values(affine.Apply(x, new Generator(seed)));
            // Some integer shift (dx ≤ 0.5·6, dy ≤ 0.5·4) must explain every output pixel, zeros where the source is outside.
            var shift = (from dy in Enumerable.Range(-2, 5)
                         from dx in Enumerable.Range(-3, 7)
                         where Enumerable.Range(0, h * w).All(k =>
                         {
                             int sy = k / w - dy, sx = k % w - dx;
                             double expected = sy >= 0 && sy < h && sx >= 0 && sx < w ? src[sy * w + sx] : 0;
                             return Math.Abs(y[k] - expected) <= 1e-12;
                         })
                         select (dx, dy)).ToList();
            Assert.True(shift.Count == 1, $"seed {seed}: no whole-pixel shift in range explains the output");
            sawShift |= shift[0] != (0, 0);
        }
        Assert.True(sawShift);
    }

    [Fact]
    public void RandomAffine_refuses_bad_ranges_and_batches_with_the_reason()
    {
        Assert.Contains("non-negative", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomAffine(-5)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomAffine(double.NaN));
        Assert.Contains("min <= max", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomAffine((10, -10))).Message);
        Assert.Contains("translate", Assert.Throws<ArgumentOutOfRangeException>(() => new RandomAffine(10, 1.5)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomAffine(10, -0.1));
        Assert.Throws<ShapeException>(() => new RandomAffine(10).Apply(Tensor.Zeros(3, 4, 4), new Generator(0)));
        Assert.Throws<DTypeException>(() => new RandomAffine(10).Apply(Tensor.Zeros([1, 1, 4, 4], DType.Int32), new Generator(0)));
    }
}
