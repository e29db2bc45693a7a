using System.Globalization;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Retrieval;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>A small checkpoint trained once and Fashion-MNIST sample images written as PNG class folders.</summary>
public sealed class InspectionFixture : IDisposable
{
    public string Dir { get; } = Path.Combine(Path.GetTempPath(), $"fovea-inspect-{Guid.NewGuid():N}");

    public string Checkpoint { get; }

    public List<string> Images { get; } = [];

    public InspectionFixture()
    {
        Directory.CreateDirectory(Dir);
        string sample = Path.Combine(RepoPaths.Root, "tests", "Fovea.Vision.Tests", "Data", "fashion-mnist-sample");
        var o = new StringWriter();
        var e = new StringWriter();
        int code = CommandLine.Run(["train", "--model", "fmnist_cnn_small", "--data", sample, "--epochs", "1", "--batch-size", "50", "--limit", "300",
            "--out", Path.Combine(Dir, "run")], o, e);
        if (code != 0) throw new InvalidOperationException("training the test checkpoint failed: " + e);
        Checkpoint = Directory.GetFiles(Path.Combine(Dir, "run"), "*.safetensors", SearchOption.AllDirectories).OrderBy(f => f, StringComparer.Ordinal).Last();
        var data = FashionMnist.Load(sample);
        var labels = data.TestLabels.To(DType.Int32).ToArray<int>();
        for (int i = 0; i < 40; i++)
        {
            string cls = FashionMnist.Classes[labels[i]].Replace('/', '-');
            string path = Path.Combine(Dir, "images", cls, $"{i:D3}.png");
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            ImageIO.SavePng(path, ImagePlanes.FromTensor(data.TestImages.Select(0, i).Reshape(1, 28, 28).To(DType.Float32)));
            Images.Add(path);
        }
    }

    public void Dispose() => Directory.Delete(Dir, recursive: true);
}

/// <summary>filters, activations, saliency, top-images, index and search: outputs, printed results and one-line errors.</summary>
public sealed class InspectionCommandTests(InspectionFixture f) : IClassFixture<InspectionFixture>
{

    private static void AssertError((int Code, string Out, string Err) r, int code, params string[] contains)
    {
        Assert.Equal(code, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        foreach (var c in contains) Assert.Contains(c, r.Err);
    }

    private string Out(string name) => Path.Combine(f.Dir, Guid.NewGuid().ToString("N")[..8] + name);

    [Fact]
    public void Filters_FirstConvolution_IsAGrid()
    {
        string png = Out("filters.png");
        var r = Run("filters", "--checkpoint", f.Checkpoint, "--layer", "features.0", "-o", png);
        Assert.Equal(0, r.Code);
        var grid = ImageIO.Load(png);
        Assert.Equal(4 * (3 * 16 + 2) + 2, grid.Width); // 16 filters of 3x3 at 16x in a 4 x 4 grid
        Assert.True(grid.Data.Distinct().Count() > 20);
    }

    [Fact]
    public void Filters_BadLayers_AreUsageErrorsThatSayWhy()
    {
        AssertError(Run("filters", "--checkpoint", f.Checkpoint, "--layer", "features.99", "-o", Out("x.png")), 2,
            "unknown layer 'features.99'", "layers with filters: features.0, features.3");
        AssertError(Run("filters", "--checkpoint", f.Checkpoint, "--layer", "classifier.4", "-o", Out("x.png")), 2, "not the 1x28x28 input pixels");
        AssertError(Run("filters", "--checkpoint", f.Checkpoint, "--layer", "features.2", "-o", Out("x.png")), 2, "has no filters");
        AssertError(Run("filters", "--checkpoint", f.Checkpoint, "-o", Out("x.png")), 2, "--layer NAME is required", "features.0");
        AssertError(Run("filters", "--pretrained", "vgg99", "--layer", "x", "-o", Out("x.png")), 2, "unknown pretrained 'vgg99'");
        AssertError(Run("filters", "--layer", "x", "-o", Out("x.png")), 2, "name the network with --checkpoint FILE, --pretrained resnet18 or --model NAME");
        AssertError(Run("filters", "--model", "nosuchnet", "--layer", "x", "-o", Out("x.png")), 2, "unknown model 'nosuchnet'");
        AssertError(Run("filters", "--checkpoint", Out("missing.safetensors"), "--layer", "x", "-o", Out("x.png")), 1, "file not found");
    }

    [Fact]
    public void Filters_ZooMlp_ShowsItsFirstLinearLayerAsTemplates()
    {
        string png = Out("templates.png");
        Assert.Equal(0, Run("filters", "--model", "mlp", "--channels", "1", "--input-size", "28", "--layer", "layers.1", "-o", png).Code);
        Assert.Equal(16 * (28 * 2 + 2) + 2, ImageIO.Load(png).Width);
    }

    [Fact]
    public void Activations_WriteOneTilePerChannel_AndRefuseVectors()
    {
        string png = Out("maps.png");
        var r = Run("activations", "--checkpoint", f.Checkpoint, "--layer", "features.2", "-o", png, f.Images[0]);
        Assert.Equal(0, r.Code);
        Assert.Equal(4 * (28 * 2 + 2) + 2, ImageIO.Load(png).Width);
        AssertError(Run("activations", "--checkpoint", f.Checkpoint, "--layer", "classifier.1", "-o", png, f.Images[0]), 2, "not feature maps");
        AssertError(Run("activations", "--checkpoint", f.Checkpoint, "--layer", "features.2", "-o", png), 2, "one image file");
        AssertError(Run("activations", "--checkpoint", f.Checkpoint, "--layer", "features.2", "-o", png, Out("none.png")), 1, "file not found");
    }

    [Fact]
    public void Saliency_PrintsTheClass_AndWritesThreePanels()
    {
        string png = Out("saliency.png");
        var r = Run("saliency", "--checkpoint", f.Checkpoint, "--class", "3", "-o", png, f.Images[1]);
        Assert.Equal(0, r.Code);
        Assert.Contains(": class 3 (Dress): score", r.Out);
        Assert.Contains("Grad-CAM on 'features'", r.Out);
        var image = ImageIO.Load(png);
        Assert.True(image.Width > 3 * 224 && image.Height > 224);
        AssertError(Run("saliency", "--checkpoint", f.Checkpoint, "--class", "12", "-o", png, f.Images[1]), 2, "classes 0 to 9");
        AssertError(Run("saliency", "--checkpoint", f.Checkpoint, "--cam-layer", "nope", "-o", png, f.Images[1]), 2, "unknown layer 'nope'");
        Assert.Equal(0, Run("saliency", "--checkpoint", f.Checkpoint, "--cam-layer", "features.9", "-o", png, f.Images[1], f.Images[2]).Code);
        Assert.Equal(2 * image.Height, ImageIO.Load(png).Height); // one row per image
    }

    [Fact]
    public void TopImages_ListsTheBest_AndChecksTheUnit()
    {
        string png = Out("top.png");
        var r = Run(["top-images", "--checkpoint", f.Checkpoint, "--unit", "features.6:3", "--top", "4", "--batch", "16", "-o", png, .. f.Images]);
        Assert.Equal(0, r.Code);
        Assert.Contains("features.6: receptive field 6x6 pixels, stride 2", r.Out);
        var lines = r.Out.Split('\n').Where(l => l.TrimStart().StartsWith("1.", StringComparison.Ordinal) || l.Contains(" at (")).ToList();
        Assert.Equal(4, lines.Count);
        var scores = lines.Select(l => double.Parse(l.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(scores.OrderByDescending(s => s), scores);
        Assert.Equal(2 * (6 * 8 + 2) + 2, ImageIO.Load(png).Width);
        AssertError(Run("top-images", "--checkpoint", f.Checkpoint, "--unit", "features.6", "-o", png, f.Images[0]), 2, "LAYER:CHANNEL");
        AssertError(Run("top-images", "--checkpoint", f.Checkpoint, "--unit", "features.6:99", "-o", png, f.Images[0]), 2, "channels 0 to 15");
        AssertError(Run("top-images", "--checkpoint", f.Checkpoint, "--unit", "nope:1", "-o", png, f.Images[0]), 2, "unknown layer 'nope'", "features.6");
    }

    [Fact]
    public void IndexAndSearch_FindTheQueryItself_AddExport_AndMeasurePrecision()
    {
        string root = Path.Combine(f.Dir, "images"), fvi = Out("a.fvi");
        var first = f.Images.Take(30).ToArray();
        var r = Run(["index", "--checkpoint", f.Checkpoint, "--root", root, "--batch", "8", "-o", fvi, .. first]);
        Assert.Equal(0, r.Code);
        Assert.Contains("30 vectors of 128 (Float32) from checkpoint:fmnist_cnn_small layer 'classifier.2'", r.Out);

        string sheet = Out("sheet.png");
        r = Run("search", fvi, "--top", "3", "--sheet", sheet, f.Images[5]);
        Assert.Equal(0, r.Code);
        string self = Path.GetRelativePath(root, f.Images[5]).Replace('\\', '/');
        Assert.Contains($"    1.  1.0000  {self}", r.Out);
        var contact = ImageIO.Load(sheet);
        Assert.Equal(6 + 4 * (96 + 6) + 6, contact.Width);

        // --add appends the new images and skips those already there.
        r = Run(["index", "--checkpoint", f.Checkpoint, "--root", root, "--add", "-o", fvi, .. f.Images.Skip(25)]);
        Assert.Equal(0, r.Code);
        Assert.Contains("5 image(s) already in the index, skipped", r.Out);
        using (var index = ImageIndex.Open(fvi)) Assert.Equal(40, index.Count);

        string npy = Out("v.npy");
        r = Run("index", "export", fvi, "-o", npy);
        Assert.Equal(0, r.Code);
        Assert.Equal(128 + 40 * 128 * 4, new FileInfo(npy).Length);
        Assert.Equal(40, File.ReadAllLines(Path.ChangeExtension(npy, null) + ".paths.txt").Length);

        r = Run("search", fvi, "--precision-at", "3");
        Assert.Equal(0, r.Code);
        var value = double.Parse(r.Out.Trim().Split(' ').Last(), CultureInfo.InvariantCulture);
        Assert.InRange(value, 0.0, 1.0);

        // A whole image folder: its files, relative to it.
        string folderIndex = Out("folder.fvi");
        r = Run("index", "--checkpoint", f.Checkpoint, "-o", folderIndex, root);
        Assert.Equal(0, r.Code);
        using (var index = ImageIndex.Open(folderIndex))
        {
            Assert.Equal(40, index.Count);
            Assert.Equal(Path.GetFullPath(root), index.Info.Root);
            Assert.Contains(self, index.Paths);
        }

        // float16: the same hits, half the vector bytes.
        string half = Out("h.fvi");
        Assert.Equal(0, Run(["index", "--checkpoint", f.Checkpoint, "--root", root, "--float16", "-o", half, .. first]).Code);
        Assert.Contains($"1.  1.000", Run("search", half, f.Images[5]).Out);
    }

    [Fact]
    public void IndexAndSearch_RefuseBadInput()
    {
        string root = Path.Combine(f.Dir, "images"), fvi = Out("b.fvi");
        AssertError(Run("index", "--checkpoint", f.Checkpoint, "--root", root, "-o", fvi, Path.Combine(f.Dir, "run")), 1, "no class folders");
        AssertError(Run("index", "--checkpoint", f.Checkpoint, "--root", root, "-o", fvi, f.Checkpoint), 2, "not an image file");
        AssertError(Run("index", "--checkpoint", f.Checkpoint, "--root", root, "--layer", "bogus", "-o", fvi, f.Images[0]), 2, "unknown layer 'bogus'");
        AssertError(Run("index", "--checkpoint", f.Checkpoint, "--root", Path.Combine(root, "Dress"), "-o", fvi, f.Images[0]), 2, "outside the root");
        AssertError(Run("index", "--checkpoint", f.Checkpoint, "--root", root, "--add", "-o", fvi, f.Images[0]), 2, "--add needs an existing index");
        AssertError(Run("search", f.Checkpoint, f.Images[0]), 1, f.Checkpoint, "not a Fovea image index");
        AssertError(Run("search"), 2, "expected an index file");

        Assert.Equal(0, Run("index", "--checkpoint", f.Checkpoint, "--root", root, "-o", fvi, f.Images[0], f.Images[1]).Code);
        AssertError(Run("search", fvi), 2, "at least one query image");
        AssertError(Run("search", fvi, "--precision-at", "3", f.Images[0]), 2, "give no queries");
        // A different checkpoint than the index's is refused.
        string other = Out("other.safetensors");
        File.Copy(f.Checkpoint, other);
        using (var s = File.OpenWrite(other)) s.SetLength(s.Length); // same bytes: accepted
        Assert.Equal(0, Run("search", fvi, "--checkpoint", other, f.Images[0]).Code);
        AssertError(Run("index", "--model", "fmnist_cnn_small", "--channels", "1", "--input-size", "28", "--root", root, "--add", "-o", fvi, f.Images[3]), 2, "holds vectors of checkpoint:fmnist_cnn_small");
    }
}
