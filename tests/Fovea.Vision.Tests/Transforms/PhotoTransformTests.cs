using Fovea.Vision.Imaging;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Tests.Transforms;

/// <summary>
/// The transforms for photographs against values derived by hand from their definitions (Pillow's antialiased
/// bilinear taps, torchvision's crop offsets and RandomResizedCrop fallback, ColorJitter's blends), and the
/// <see cref="Preprocessing"/> description: the pipeline it builds and its JSON, hostile input included.
/// </summary>
public class PhotoTransformTests
{
    private static ImagePlanes Img(int c, int h, int w, Func<int, int, int, float> f)
    {
        var img = ImagePlanes.Zeros(c, h, w);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) img.Data[(ch * h + y) * w + x] = f(ch, y, x);
        return img;
    }

    private static void Close(double[] expected, float[] actual, double tol = 1e-6)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol, $"[{i}]: expected {expected[i]}, got {actual[i]}");
    }

    private static readonly Generator G = new(1);

    [Fact]
    public void Resize_ShrinkingByTwo_AveragesWithTheWidenedTriangle()
    {
        // Width 8 -> 4: scale 2, support 2; interior taps (1, 3, 3, 1)/8, edge taps clipped and renormalised to (3, 3, 1)/7.
        var row = Img(1, 1, 8, (_, _, x) => x);
        var y = new Resize(1, 4).Apply(row, G);
        Close([5.0 / 7, 20.0 / 8, 36.0 / 8, 44.0 / 7], y.Data);
    }

    [Fact]
    public void Resize_Enlarging_IsBilinearWithHalfPixelCentres()
    {
        var row = Img(1, 1, 2, (_, _, x) => x == 0 ? 2 : 6);
        var y = new Resize(1, 4).Apply(row, G);
        Close([2, 0.75 * 2 + 0.25 * 6, 0.25 * 2 + 0.75 * 6, 6], y.Data);
        // Both axes at once, on a 2x2 image: the separable product.
        var sq = Img(1, 2, 2, (_, yy, x) => 10 * yy + x);
        var big = new Resize(4, 4).Apply(sq, G);
        double[] t = [0, 0.25, 0.75, 1];
        Close(t.SelectMany(a => t.Select(b => 10 * a + b)).ToArray(), big.Data, 1e-5);
    }

    [Fact]
    public void Resize_OneSize_SetsTheShorterSide_AndKeepsTheAspectRatio()
    {
        Assert.Equal((20, 24), new Resize(20).OutputSize(40, 48));
        Assert.Equal((24, 20), new Resize(20).OutputSize(48, 40));
        Assert.Equal((3, 4), new Resize(3).OutputSize(7, 10)); // floor(3 * 10 / 7)
        var img = Img(3, 40, 48, (c, y, x) => (c + y + x) / 100f);
        var r = new Resize(20).Apply(img, G);
        Assert.Equal((3, 20, 24), (r.Channels, r.Height, r.Width));
        Assert.Same(img, new Resize(40).Apply(img, G));
        // A constant image stays constant whatever the scale (the taps sum to 1).
        var flat = new Resize(7).Apply(Img(1, 40, 48, (_, _, _) => 0.3f), G);
        Assert.All(flat.Data, v => Assert.Equal(0.3f, v, 1e-6f));
    }

    [Fact]
    public void CenterCrop_RoundsTheOffsetToEven_AndPadsWithZeros()
    {
        var img = Img(1, 5, 6, (_, y, x) => 10 * y + x);
        // top = round(1.5) = 2, left = round(1.5) = 2.
        var c = new CenterCrop(2, 3).Apply(img, G);
        Assert.Equal([22f, 23, 24, 32, 33, 34], c.Data);
        var small = Img(1, 2, 2, (_, y, x) => 1 + 2 * y + x);
        var padded = new CenterCrop(4).Apply(small, G);
        Assert.Equal([0f, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0], padded.Data);
    }

    [Fact]
    public void RandomResizedCrop_StaysInside_HonoursScaleAndRatio_AndFallsBackToTheCentre()
    {
        var rrc = new RandomResizedCrop(16);
        var g = new Generator(7);
        for (int i = 0; i < 500; i++)
        {
            var (top, left, h, w) = rrc.Window(60, 90, g);
            Assert.InRange(top, 0, 60 - h);
            Assert.InRange(left, 0, 90 - w);
            double area = (double)h * w / (60 * 90), ratio = (double)w / h;
            if ((h, w) != (60, 80)) // not the fallback
            {
                Assert.InRange(area, 0.08 * 0.8, 1.0);
                Assert.InRange(ratio, 0.75 * 0.9, 4.0 / 3 * 1.1);
            }
        }
        // Scale and ratio pinned to 1 on a 40x48 image: no square of the whole area fits, so the fallback takes the
        // central 40x40 (the image is wider than ratio 1 allows).
        var pinned = new RandomResizedCrop(10, (1, 1), (1, 1));
        Assert.Equal((0, 4, 40, 40), pinned.Window(40, 48, new Generator(3)));
        var img = Img(3, 40, 48, (c, y, x) => MathF.Sin(c + y * 0.3f + x * 0.2f));
        var expected = new Resize(10, 10).Apply(new CenterCrop(40, 40).Apply(img, G), G);
        Assert.Equal(expected.Data, pinned.Apply(img, new Generator(3)).Data);
        // The same generator state gives the same crop.
        Assert.Equal(rrc.Apply(img, new Generator(5)).Data, rrc.Apply(img, new Generator(5)).Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RandomResizedCrop(8, (0, 1), (1, 1)));
    }

    [Fact]
    public void Flip_MirrorsEachRow_WhenTheDrawSaysSo()
    {
        var img = Img(2, 2, 3, (c, y, x) => 100 * c + 10 * y + x);
        Assert.Equal([2f, 1, 0, 12, 11, 10, 102, 101, 100, 112, 111, 110], new RandomHorizontalFlip(1).Apply(img, G).Data);
        Assert.Same(img, new RandomHorizontalFlip(0).Apply(img, G));
    }

    [Fact]
    public void ColorJitter_BlendsAsTorchvision_WithFactorsFromTheGenerator()
    {
        var img = Img(3, 4, 5, (c, y, x) => 0.1f + 0.04f * (c * 7 + y * 3 + x));
        foreach (var (jitter, which) in new[] { (new ColorJitter(brightness: 0.5), 0), (new ColorJitter(contrast: 0.5), 1), (new ColorJitter(saturation: 0.9), 2) })
        {
            var g = new Generator(11);
            var got = jitter.Apply(img, g);
            // Replay the draws: the order permutation, then the one factor in use.
            var replay = new Generator(11);
            replay.Permutation(3);
            double strength = which == 0 ? 0.5 : which == 1 ? 0.5 : 0.9;
            double f = Math.Max(0, 1 - strength) + replay.NextDouble() * (1 + strength - Math.Max(0, 1 - strength));
            var gray = Grayscale.ToGray(img).Data;
            double mean = gray.Average(v => (double)v);
            var expected = new double[img.Data.Length];
            for (int i = 0; i < expected.Length; i++)
            {
                double reference = which == 0 ? 0 : which == 1 ? mean : gray[i % gray.Length];
                expected[i] = Math.Clamp(f * img.Data[i] + (1 - f) * reference, 0, 1);
            }
            Close(expected, got.Data, 1e-5);
        }
        // One channel: saturation has nothing to change.
        var g1 = Img(1, 3, 3, (_, y, x) => 0.1f * (y + x));
        Assert.Equal(g1.Data, new ColorJitter(saturation: 1).Apply(g1, new Generator(2)).Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ColorJitter(brightness: -0.1));
    }

    [Fact]
    public void ConvertChannels_RepeatsGray_TakesLuma_AndDropsAlpha()
    {
        var gray = Img(1, 1, 2, (_, _, x) => 0.25f * (x + 1));
        Assert.Equal([0.25f, 0.5f, 0.25f, 0.5f, 0.25f, 0.5f], new ConvertChannels(3).Apply(gray, G).Data);
        var rgba = Img(4, 1, 1, (c, _, _) => new[] { 1f, 0.5f, 0.25f, 0.9f }[c]);
        Assert.Equal([1f, 0.5f, 0.25f], new ConvertChannels(3).Apply(rgba, G).Data);
        Assert.Equal(0.299f + 0.587f * 0.5f + 0.114f * 0.25f, new ConvertChannels(1).Apply(rgba, G).Data[0], 1e-6f);
        var ga = Img(2, 1, 1, (c, _, _) => c == 0 ? 0.4f : 1f);
        Assert.Equal([0.4f], new ConvertChannels(1).Apply(ga, G).Data);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ConvertChannels(2));
    }

    [Fact]
    public void ImageTransforms_OnABatch_EqualThemOnEachImage()
    {
        var a = Img(3, 8, 10, (c, y, x) => (c + y * x) / 80f);
        var b = Img(3, 8, 10, (c, y, x) => (c * y + x) / 30f);
        var batch = Tensor.Stack([a.ToTensor(), b.ToTensor()]).To(DType.Float64);
        var pipeline = new ImagePipeline(new Resize(6), new CenterCrop(5), new RandomHorizontalFlip(), Normalize.ImageNet());
        var y = ((ITransform)pipeline).Apply(batch, new Generator(4));
        Assert.Equal(DType.Float64, y.DType);
        Assert.Equal([2, 3, 5, 5], y.Shape);
        var g = new Generator(4);
        var expected = pipeline.Apply(a, g).Data.Concat(pipeline.Apply(b, g).Data).Select(v => (double)v).ToArray();
        Close(expected, y.To(DType.Float32).ToArray<float>());
    }

    [Fact]
    public void Normalize_OnOneImage_UsesEachChannelsStatistics()
    {
        var img = Img(3, 1, 1, (c, _, _) => 0.5f);
        var n = Normalize.ImageNet().Apply(img, G);
        Close([(0.5 - 0.485) / 0.229, (0.5 - 0.456) / 0.224, (0.5 - 0.406) / 0.225], n.Data);
        Assert.Throws<ShapeException>(() => Normalize.ImageNet().Apply(Img(1, 1, 1, (_, _, _) => 0), G));
    }

    [Fact]
    public void Preprocessing_IsResizeCropChannelsNormalize_AndRoundTripsAsJson()
    {
        var p = Preprocessing.ImageNet();
        Assert.Equal((256, 224, 3), (p.ShorterSide, p.CropSize, p.Channels));
        var img = Img(1, 300, 400, (_, y, x) => ((y * 7 + x * 3) % 255) / 255f);
        var x = p.Apply(img);
        Assert.Equal([3, 224, 224], x.Shape);
        var manual = Normalize.ImageNet().Apply(new CenterCrop(224).Apply(new Resize(256).Apply(new ConvertChannels(3).Apply(img, G), G), G), G);
        Assert.Equal(manual.Data, x.ToArray<float>());

        string json = p.ToJson();
        Assert.Equal("""{"shorterSide":256,"cropSize":224,"channels":3,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}""", json);
        Assert.Equal(p, Preprocessing.Parse(json, "ckpt"));
        var gray = Preprocessing.Create(28, 1);
        Assert.Equal(gray, Preprocessing.Parse(gray.ToJson(), "ckpt"));
        Assert.NotEqual(p, gray);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "expected an object")]
    [InlineData("""{"shorterSide":28,"shorterSide":28,"cropSize":28,"channels":1,"mean":[0],"std":[1]}""", "twice")]
    [InlineData("""{"shorterSide":28,"cropSize":28,"channels":1,"mean":[0],"std":[1],"extra":1}""", "unknown key 'extra'")]
    [InlineData("""{"shorterSide":28,"channels":1,"mean":[0],"std":[1]}""", "lacks cropSize")]
    [InlineData("""{"shorterSide":28,"cropSize":28,"channels":2,"mean":[0,0],"std":[1,1]}""", "neither 1 nor 3")]
    [InlineData("""{"shorterSide":20,"cropSize":28,"channels":1,"mean":[0],"std":[1]}""", "shorter side 20")]
    [InlineData("""{"shorterSide":28,"cropSize":99999,"channels":1,"mean":[0],"std":[1]}""", "'cropSize'")]
    [InlineData("""{"shorterSide":28,"cropSize":28,"channels":3,"mean":[0],"std":[1,1,1]}""", "need 3 values")]
    [InlineData("""{"shorterSide":28,"cropSize":28,"channels":1,"mean":[0],"std":[0]}""", "not positive")]
    [InlineData("""{"shorterSide":28,"cropSize":28,"channels":1,"mean":["a"],"std":[1]}""", "finite number")]
    [InlineData("""{"shorterSide":28,"cropSize":28,"channels":1,"mean":[0,0,0,0],"std":[1]}""", "more than 3")]
    public void Preprocessing_FromAHostileFile_IsRefusedNamingTheField(string json, string expected)
    {
        var e = Assert.Throws<InvalidDataException>(() => Preprocessing.Parse(json, "model.safetensors"));
        Assert.StartsWith("model.safetensors: ", e.Message);
        Assert.Contains(expected, e.Message);
    }
}
