using Fovea.NN;
using Fovea.Vision.Imaging;
using Fovea.Vision.Inspection;
using Fovea.Vision.Models;

namespace Fovea.Vision.Tests.Inspection;

/// <summary>Saliency and Grad-CAM against hand-derived values, receptive fields against gradients, top images and filter grids.</summary>
public class InspectionTests
{
    private static InspectedModel Wrap(Module<Tensor, Tensor> model, int channels, int size) =>
        new(model, "test", channels, size, image => InspectedModel.Resize(image, channels, size));

    private static ImagePlanes Picture(float[] values, int channels, int size) => new(values, channels, size, size);

    [Fact]
    public void Gradient_OfALinearModel_IsTheAbsoluteRowOfW_OverItsMax()
    {
        // score_k = Σ_i W[k, i] x_i + b_k, so ∂score_k/∂x = W[k] and the map is |W[k]| / max|W[k]| (one channel).
        var linear = new Linear(4, 2, generator: new Generator(1));
        using (GradMode.Disable())
        {
            linear.NamedParameters().First().Parameter.CopyFrom(Tensor.FromArray(new float[] { 1, -2, 0.5f, 4, -1, 3, -3, 0 }, 2, 4));
        }
        // Grad-CAM needs maps: the identity "conv" keeps [1, 1, 2, 2] before the flatten.
        var model = new Sequential(("maps", new Identity()), ("flat", new Flatten()), ("fc", linear));
        var maps = Saliency.Compute(Wrap(model, 1, 2), Picture([0.1f, 0.2f, 0.3f, 0.4f], 1, 2), classIndex: 1, camLayer: "maps");
        Assert.Equal(1, maps.Class);
        Assert.Equal(new float[] { 1 / 3f, 1, 1, 0 }, maps.Gradient.ToArray<float>());
        // Grad-CAM with one map A = x and α = mean(W[1]) = (−1 + 3 − 3 + 0)/4 = −0.25 < 0: relu kills it.
        Assert.All(maps.GradCam.ToArray<float>(), v => Assert.Equal(0f, v));
        // The score is W[1]·x + b[1].
        var b = linear.NamedParameters().Last().Parameter.ToArray<float>()[1];
        Assert.Equal(-0.1 + 0.6 - 0.9 + b, maps.Score, 5);
    }

    [Fact]
    public void GradCam_WeighsEachMapByItsMeanGradient()
    {
        // A = conv1x1(x) with weights (1, 2) on one input channel → two maps x and 2x; score = W[k]·mean(A) after a
        // global average pool, so α_c = W[k, c] / (h·w) and L = relu(Σ α_c A_c) = relu((W[k,0] + 2 W[k,1]) x / 4).
        var conv = new Conv2d(1, 2, 1, bias: false, generator: new Generator(1));
        var fc = new Linear(2, 2, generator: new Generator(2));
        using (GradMode.Disable())
        {
            conv.NamedParameters().First().Parameter.CopyFrom(Tensor.FromArray(new float[] { 1, 2 }, 2, 1, 1, 1));
            fc.NamedParameters().First().Parameter.CopyFrom(Tensor.FromArray(new float[] { 3, 1, -1, -1 }, 2, 2));
        }
        var model = new Sequential(("conv", conv), ("pool", new AdaptiveAvgPool2d(1)), ("flat", new Flatten()), ("fc", fc));
        var x = new float[] { 0.1f, 0.9f, 0.5f, 0.3f };
        var maps = Saliency.Compute(Wrap(model, 1, 2), Picture(x, 1, 2), classIndex: 0);
        Assert.Equal("conv", maps.CamLayer); // the last module with maps of more than one pixel
        // Unnormalised L = (3 + 2)/4 · x; divided by its max it is x / max(x).
        var expected = x.Select(v => v / 0.9f).ToArray();
        var cam = maps.GradCam.ToArray<float>();
        for (int i = 0; i < 4; i++) Assert.Equal(expected[i], cam[i], 5);
        // Class 1 has α = (−1, −1)/4 < 0 everywhere on positive maps: an all-zero map.
        Assert.All(Saliency.Compute(Wrap(model, 1, 2), Picture(x, 1, 2), classIndex: 1).GradCam.ToArray<float>(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void ReceptiveField_OfFashionCnn_MatchesTheFormulaAndTheGradient()
    {
        var model = new FashionCnn(width: 4);
        model.Eval();
        // conv3 p1, conv3 p1: r 5, j 1, start 0; pool 2: r 6, j 2, start 0.5; two convs: r 14; pool: r 16, j 4, start 1.5.
        var field = ReceptiveField.Of(model, "features.13")!;
        Assert.Equal(new ReceptiveField(16, 4, 1.5, false), field);
        var summaryRow = model.Summary(1, 1, 28, 28).Rows.First(r => r.Name == "features.13");
        Assert.Equal((summaryRow.ReceptiveFieldSize, summaryRow.ReceptiveFieldStride), (field.Size, field.Jump));
        Assert.True(ReceptiveField.Of(model, "classifier.1")!.Global);

        // Every input pixel that output (y, x) depends on lies inside its crop box.
        var input = Tensor.Rand([1, 1, 28, 28], new Generator(5)).RequiresGrad_();
        using var fx = new FeatureExtractor(model, "features.13");
        var maps = fx.Extract(input)["features.13"];
        int y = 3, xx = 2;
        var grad = Autograd.Grad(maps.Select(0, 0).Select(0, 1).Select(0, y).Select(0, xx), input).Select(0, 0).Select(0, 0).ToArray<float>();
        int top = (int)Math.Round(field.Start + y * field.Jump - (field.Size - 1) / 2.0), left = (int)Math.Round(field.Start + xx * field.Jump - (field.Size - 1) / 2.0);
        int inside = 0;
        for (int r = 0; r < 28; r++)
            for (int c = 0; c < 28; c++)
            {
                if (grad[r * 28 + c] == 0) continue;
                Assert.InRange(r, top, top + field.Size - 1);
                Assert.InRange(c, left, left + field.Size - 1);
                inside++;
            }
        Assert.True(inside > 50, $"only {inside} pixels influence the unit");
    }

    [Fact]
    public void ReceptiveField_FollowsAResNetBlocksMainPath()
    {
        var resnet = new ResNet(18, 3, 10, 64);
        // conv1 7/2 p3: r 7, j 2; maxpool 3/2 p1: r 11, j 4; layer1's two blocks: four 3x3 convs: r 11 + 4·2·4 = 43.
        Assert.Equal((43, 4), (ReceptiveField.Of(resnet, "layer1")!.Size, ReceptiveField.Of(resnet, "layer1")!.Jump));
        Assert.Equal((19, 4), (ReceptiveField.Of(resnet, "layer1.0.conv1")!.Size, ReceptiveField.Of(resnet, "layer1.0.conv1")!.Jump));
    }

    [Fact]
    public void TopImages_RankByTheUnitsPeak_AndCropAroundIt()
    {
        // A 3x3 convolution that passes the centre pixel: the unit's activation is the pixel, its field 3x3.
        var conv = new Conv2d(1, 1, 3, padding: 1, bias: false, generator: new Generator(1));
        using (GradMode.Disable())
        {
            var w = new float[9];
            w[4] = 1;
            conv.NamedParameters().First().Parameter.CopyFrom(Tensor.FromArray(w, 1, 1, 3, 3));
        }
        var model = Wrap(new Sequential(("conv", conv)), 1, 8);
        var pictures = new float[5 * 64];
        float[] peaks = [0.3f, 0.9f, 0.1f, 0.7f, 0.5f];
        for (int i = 0; i < 5; i++) pictures[i * 64 + (i + 2) * 8 + 4] = peaks[i]; // image i: a dot at (i + 2, 4)
        var batches = new[] { Tensor.FromArray(pictures[..192], 3, 1, 8, 8), Tensor.FromArray(pictures[192..], 2, 1, 8, 8) };
        var top = TopImages.Find(model, batches, "conv", 0, 3);
        Assert.Equal([1, 3, 4], top.Select(t => t.Index));
        Assert.Equal([0.9f, 0.7f, 0.5f], top.Select(t => t.Activation));
        Assert.Equal((3, 4), (top[0].Y, top[0].X));
        // The crop is 3x3 with the dot in the middle.
        var patch = top[0].Patch.ToArray<float>();
        Assert.Equal(9, patch.Length);
        Assert.Equal(0.9f, patch[4]);
        Assert.Equal(0.9f, patch.Sum(), 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => TopImages.Find(model, batches, "conv", 1, 3));
    }

    [Fact]
    public void Filters_StretchEachFilter_AndLinearRowsNeedPixelInputs()
    {
        var conv = new Conv2d(1, 2, 2, bias: false, generator: new Generator(1));
        using (GradMode.Disable())
            conv.NamedParameters().First().Parameter.CopyFrom(Tensor.FromArray(new float[] { 0, 1, 2, 3, -1, -1, 1, 1 }, 2, 1, 2, 2));
        var model = Wrap(new Sequential(("conv", conv), ("flat", new Flatten()), ("fc", new Linear(2 * 3 * 3, 2, generator: new Generator(2)))), 1, 4);
        var grid = LayerImages.Filters(model, "conv");
        int scale = InspectionImages.ScaleFor(2), cell = 2 * scale + InspectionImages.Gap;
        Assert.Equal((2 * cell + InspectionImages.Gap, cell + InspectionImages.Gap), (grid.Width, grid.Height));
        // Filter 0 (0, 1, 2, 3) becomes 0, 1/3, 2/3, 1: its top-left square is black, its bottom-right white.
        float At(int x, int y) => grid.Data[y * grid.Width + x];
        Assert.Equal(0f, At(InspectionImages.Gap, InspectionImages.Gap));
        Assert.Equal(1f, At(InspectionImages.Gap + 2 * scale - 1, InspectionImages.Gap + 2 * scale - 1));
        Assert.Equal(1 / 3f, At(InspectionImages.Gap + scale, InspectionImages.Gap), 5);
        var e = Assert.Throws<ArgumentException>(() => LayerImages.Filters(model, "fc"));
        Assert.Contains("not the 1x4x4 input pixels", e.Message);
        Assert.Contains("layers with filters: conv, fc", e.Message);
        Assert.Contains("has no filters", Assert.Throws<ArgumentException>(() => LayerImages.Filters(model, "flat")).Message);
    }

    [Fact]
    public void Filters_OfALinearLayerOnPixels_AreTemplates()
    {
        var mlp = InspectedModel.FromZoo("mlp", 1, 28);
        var grid = LayerImages.Filters(mlp, "layers.1");
        int cell = 28 * InspectionImages.ScaleFor(28) + InspectionImages.Gap;
        Assert.Equal(16 * cell + InspectionImages.Gap, grid.Width); // 256 rows of W in a 16 x 16 grid
    }

    [Fact]
    public void Activations_NeedMaps()
    {
        var model = InspectedModel.FromZoo("fmnist_cnn_small", 1, 28);
        var image = new ImagePlanes(new float[28 * 28], 1, 28, 28);
        var maps = LayerImages.Activations(model, image, "features.2");
        int cell = 28 * InspectionImages.ScaleFor(28) + InspectionImages.Gap;
        Assert.Equal(4 * cell + InspectionImages.Gap, maps.Width); // 16 channels, 4 x 4
        Assert.Contains("not feature maps", Assert.Throws<ArgumentException>(() => LayerImages.Activations(model, image, "classifier.1")).Message);
    }
}
