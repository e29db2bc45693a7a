using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary><c>fovea export-images</c>: a dataset written as class folders of image files, and its one-line errors.</summary>
public sealed class ExportImagesCommandTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-export-{Guid.NewGuid():N}");

    public ExportImagesCommandTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Sample => RepoPaths.Image("fashion-mnist-sample");

    [Fact]
    public void FashionMnistTest_AsJpegFolders_ReadsBackAsAnImageFolder()
    {
        string outDir = Path.Combine(_dir, "fmnist");
        var r = Run("export-images", "--dataset", "fashion-mnist", "--data", Sample, "--split", "test", "--per-class", "4", "--format", "jpg", "-o", outDir);
        Assert.Equal(0, r.Code);
        Assert.Contains("T-shirt-top: 4 images", r.Out);
        Assert.Contains("wrote 40 jpg images of fashion-mnist (test) into " + outDir, r.Out);
        var folder = ImageFolder.Open(outDir, validationFraction: 0);
        Assert.Equal(10, folder.Classes.Count);
        Assert.Equal(40, folder.Train.Count);
        Assert.All(folder.Train, f => Assert.EndsWith(".jpg", f.Path));
        var img = ImageIO.Load(folder.Train[0].Path);
        Assert.Equal((28, 28), (img.Height, img.Width));
        // The JPEG writer stores gray as three equal components (Y only; Cb = Cr = 128).
        for (int c = 1; c < img.Channels; c++) Assert.Equal(img.Plane(0).ToArray(), img.Plane(c).ToArray());
        Assert.Empty(Directory.GetFiles(outDir, "*fovea-tmp*", SearchOption.AllDirectories));

        // Again into the same folder: refused, then allowed with --force.
        var again = Run("export-images", "--dataset", "mnist", "--data", Sample, "--per-class", "1", "-o", outDir);
        Assert.Equal(1, again.Code);
        Assert.Contains("is not empty", again.Err);
        Assert.Single(again.Err.TrimEnd().Split('\n'));
        var forced = Run("export-images", "--dataset", "mnist", "--data", Sample, "--per-class", "1", "--format", "png", "-o", outDir, "--force");
        Assert.Equal(0, forced.Code);
        Assert.Equal(10, Directory.GetFiles(outDir, "*.png", SearchOption.AllDirectories).Length);
    }

    [Theory]
    [InlineData("export-images", "-o", "x")]
    [InlineData("export-images", "--dataset", "imagenet", "-o", "x")]
    [InlineData("export-images", "--dataset", "mnist")]
    [InlineData("export-images", "--dataset", "mnist", "-o", "x", "--format", "gif")]
    [InlineData("export-images", "--dataset", "mnist", "-o", "x", "--per-class", "-1")]
    [InlineData("export-images", "--dataset", "mnist", "-o", "x", "--quality", "101")]
    public void UsageMistakes_ExitTwo_WithOneLine(params string[] args)
    {
        var r = Run(args);
        Assert.Equal(2, r.Code);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }

    [Fact]
    public void MissingData_ExitsOne_SayingWhereItLooked()
    {
        var r = Run("export-images", "--dataset", "cifar10", "--data", _dir, "-o", Path.Combine(_dir, "out"));
        Assert.Equal(1, r.Code);
        Assert.Contains("CIFAR-10 not found", r.Err);
        Assert.Single(r.Err.TrimEnd().Split('\n'));
    }
}
