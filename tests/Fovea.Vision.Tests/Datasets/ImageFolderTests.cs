using Fovea.Data;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Transforms;

namespace Fovea.Vision.Tests.Datasets;

/// <summary>
/// A small real image folder built at test time from the committed photographs (crops of chelsea, coins and horse in
/// PNG, JPEG and BMP), with a corrupt JPEG, a non-image file and an empty class folder: scanning, splits, decoding on
/// the loader's workers, skipped files, strict mode, the cache, and bit-identical resume with augmentation.
/// </summary>
public sealed class ImageFolderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-folder-{Guid.NewGuid():N}");

    public ImageFolderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Lazy<ImagePlanes[]> Sources = new(() =>
        new[] { "chelsea.png", "coins.png", "horse.png" }.Select(f => ImageIO.Load(RepoPaths.TestData(f))).ToArray());

    /// <summary>A <paramref name="h"/> x <paramref name="w"/> window of source <paramref name="s"/> at (y, x).</summary>
    private static ImagePlanes Window(int s, int y, int x, int h = 40, int w = 48)
    {
        var src = Sources.Value[s];
        var t = src.ToTensor().Narrow(1, y, h).Narrow(2, x, w).Contiguous();
        return ImagePlanes.FromTensor(t);
    }

    /// <summary>
    /// cat/ (6 images from chelsea, PNG, JPEG and BMP, plus notes.txt and a corrupt broken.jpg), coins/ (5 from coins),
    /// horse/ (4 from horse), empty/ (only a README). Returns the root.
    /// </summary>
    private string BuildFolder(string name = "photos")
    {
        string root = Path.Combine(_dir, name);
        void Save(string cls, string file, ImagePlanes img)
        {
            string path = Path.Combine(root, cls, file);
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            switch (Path.GetExtension(file))
            {
                case ".png": ImageIO.SavePng(path, img); break;
                case ".bmp": ImageIO.SaveBmp(path, img); break;
                default: ImageIO.SaveJpeg(path, img, 90); break;
            }
        }
        string[] ext = [".png", ".jpg", ".bmp"];
        for (int i = 0; i < 6; i++) Save("cat", $"c{i}{ext[i % 3]}", Window(0, 20 + 30 * i, 100 + 20 * i));
        for (int i = 0; i < 5; i++) Save("coins", $"k{i}{ext[i % 3]}", Window(1, 10 + 40 * i, 30 + 50 * i));
        for (int i = 0; i < 4; i++) Save("horse", $"h{i}.JPG", Window(2, 50 + 30 * i, 60 + 40 * i));
        File.WriteAllText(Path.Combine(root, "cat", "notes.txt"), "not an image");
        // A JPEG cut in half: the structural check refuses it before the decoder runs.
        var good = File.ReadAllBytes(Path.Combine(root, "cat", "c1.jpg"));
        File.WriteAllBytes(Path.Combine(root, "cat", "broken.jpg"), good[..(good.Length / 2)]);
        Directory.CreateDirectory(Path.Combine(root, "empty"));
        File.WriteAllText(Path.Combine(root, "empty", "README"), "no images here");
        Directory.CreateDirectory(Path.Combine(root, ".hidden"));
        return root;
    }

    [Fact]
    public void Open_FindsClassesInOrdinalOrder_IgnoresNonImages_AndSaysWhichFolderHasNone()
    {
        string root = BuildFolder();
        var folder = ImageFolder.Open(root, validationFraction: 0);
        Assert.Equal(["cat", "coins", "empty", "horse"], folder.Classes);
        Assert.False(folder.HasSplitFolders);
        Assert.Equal(7 + 5 + 4, folder.Train.Count); // broken.jpg counts as an image until it is decoded
        Assert.Empty(folder.Validation);
        Assert.Equal(2, folder.IgnoredFiles);
        Assert.Contains(folder.Notes, n => n.Contains("empty") && n.Contains("no images"));
        Assert.Contains(folder.Notes, n => n.StartsWith("2 files without an image extension", StringComparison.Ordinal));
        Assert.All(folder.Train, f => Assert.Equal(folder.Classes[f.Label], Path.GetFileName(Path.GetDirectoryName(f.Path))));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3], folder.Train.Select(f => f.Label));
    }

    [Fact]
    public void StratifiedSplit_IsSeeded_AndTakesTheFractionOfEachClass()
    {
        string root = BuildFolder();
        var a = ImageFolder.Open(root, 0.4, seed: 3);
        var b = ImageFolder.Open(root, 0.4, seed: 3);
        var c = ImageFolder.Open(root, 0.4, seed: 4);
        Assert.Equal(a.Validation, b.Validation);
        Assert.Equal(a.Train, b.Train);
        Assert.NotEqual(a.Validation, c.Validation);
        // round(0.4 n) of each class: cat 7 -> 3, coins 5 -> 2, horse 4 -> 2 (ties to even: 1.6 -> 2).
        Assert.Equal([3, 2, 0, 2], Enumerable.Range(0, 4).Select(k => a.Validation.Count(f => f.Label == k)));
        Assert.Empty(a.Train.Intersect(a.Validation));
        Assert.Equal(16, a.Train.Count + a.Validation.Count);
    }

    [Fact]
    public void TrainAndValFolders_AreTheSplits_AndValMayNotAddAClass()
    {
        string root = Path.Combine(_dir, "split");
        string photos = BuildFolder();
        CopyTree(photos, Path.Combine(root, "train"));
        Directory.CreateDirectory(Path.Combine(root, "val", "coins"));
        File.Copy(Path.Combine(photos, "coins", "k0.png"), Path.Combine(root, "val", "coins", "v.png"));
        Directory.CreateDirectory(Path.Combine(root, "test", "horse"));
        File.Copy(Path.Combine(photos, "horse", "h0.JPG"), Path.Combine(root, "test", "horse", "t.jpg"));
        var folder = ImageFolder.Open(root, validationFraction: 0.5);
        Assert.True(folder.HasSplitFolders);
        Assert.Equal(["cat", "coins", "empty", "horse"], folder.Classes);
        Assert.Equal(16, folder.Train.Count);
        Assert.Equal([new ImageFile(Path.Combine(root, "val", "coins", "v.png"), 1)], folder.Validation);
        Assert.Equal([new ImageFile(Path.Combine(root, "test", "horse", "t.jpg"), 3)], folder.Test);

        Directory.CreateDirectory(Path.Combine(root, "val", "zebra"));
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Open(root));
        Assert.Contains("class 'zebra' of val is not among train's classes", e.Message);
    }

    [Fact]
    public void MissingRoot_FileRoot_NoClassFolders_AndNoImages_AreClearErrors()
    {
        Assert.Contains("no such folder", Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Open(Path.Combine(_dir, "nope"))).Message);
        string file = Path.Combine(_dir, "file.jpg");
        File.WriteAllText(file, "x");
        Assert.Contains("a file, not a folder", Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Open(file)).Message);
        string flat = Path.Combine(_dir, "flat");
        Directory.CreateDirectory(flat);
        File.Copy(RepoPaths.TestData("coins.png"), Path.Combine(flat, "coins.png"));
        Assert.Contains("no class folders", Assert.Throws<InvalidDataException>(() => ImageFolder.Open(flat)).Message);
        string none = Path.Combine(_dir, "none");
        Directory.CreateDirectory(Path.Combine(none, "a"));
        File.WriteAllText(Path.Combine(none, "a", "x.txt"), "");
        Assert.Contains("no images", Assert.Throws<InvalidDataException>(() => ImageFolder.Open(none)).Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageFolder.Open(flat, validationFraction: 1));
    }

    [Fact]
    public void Loader_DecodesOnWorkers_SkipsTheCorruptFileOnce_AndReportsItByName()
    {
        var folder = ImageFolder.Open(BuildFolder(), validationFraction: 0);
        var pre = Preprocessing.Create(24, 3);
        var ds = new ImageDataset(folder.Train, folder.Classes, pre.Transform());
        var reported = new List<SkippedImage>();
        ds.ImageSkipped += s => { lock (reported) reported.Add(s); };
        var loader = ds.Loader(batchSize: 5, workers: 3);
        for (int epoch = 0; epoch < 2; epoch++)
        {
            var batches = loader.ToList();
            Assert.Equal(4, batches.Count);
            Assert.Equal(15, batches.Sum(b => b.Input.Size(0)));
            Assert.All(batches, b => Assert.Equal([b.Input.Size(0), 3, 24, 24], b.Input.Shape));
            Assert.Equal(DType.Int32, batches[0].Target.DType);
            Assert.Equal([0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 3, 3, 3, 3], batches.SelectMany(b => b.Target.ToArray<int>()));
        }
        var s = Assert.Single(reported);
        Assert.EndsWith("broken.jpg", s.Path);
        Assert.Contains("broken.jpg", s.Reason);
        Assert.Equal(1, ds.SkippedCount);
        Assert.Equal([s], ds.SkippedImages);
        // Each input is the eval pipeline of its file: the same tensor as Preprocessing.Load gives (sample 0 is broken.jpg).
        var first = loader.Batches(0).First().Input.Select(0, 0);
        Assert.Equal(pre.Load(folder.Train[1].Path).ToArray<float>(), first.ToArray<float>());
    }

    [Fact]
    public void LoaderBatches_AreTheSamplesCollated_AndGrayComesStraightFromTheDecoder()
    {
        var folder = ImageFolder.Open(BuildFolder(), validationFraction: 0);
        foreach (int channels in new[] { 1, 3 })
        {
            var ds = new ImageDataset(folder.Train, folder.Classes, Preprocessing.Create(20, channels).TrainTransform(randomResizedCrop: true, flip: true));
            var loader = ds.Loader(batchSize: 4, shuffle: true, seed: 3, workers: 2);
            var batches = loader.Batches(1).ToList();
            // The same batches as collating the samples one by one (the broken file left out of its batch).
            var expected = loader.Order(1).Chunk(4)
                .Select(chunk => chunk.Select(i => ds.TryGet(i, DataLoader.SampleGenerator(3, 1, i), out var s) ? s : default).Where(s => s.Input is not null).ToList())
                .Select(ImageDataset.Collate).ToList();
            Assert.Equal(expected.Count, batches.Count);
            Assert.Equal(15, batches.Sum(b => b.Input.Size(0)));
            for (int k = 0; k < batches.Count; k++)
            {
                Assert.Equal(expected[k].Input.Shape, batches[k].Input.Shape);
                Assert.Equal(expected[k].Input.ToArray<float>(), batches[k].Input.ToArray<float>());
                Assert.Equal(expected[k].Target.Shape, batches[k].Target.Shape);
                Assert.Equal(expected[k].Target.ToArray<int>(), batches[k].Target.ToArray<int>());
            }
        }
        // A colour JPEG decoded straight to gray gives what converting its colour planes gives.
        string jpeg = folder.Train.First(f => f.Path.EndsWith("c1.jpg", StringComparison.Ordinal)).Path;
        var colour = ImageIO.Load(jpeg);
        Assert.Equal(3, colour.Channels);
        var gray = ImageIO.LoadForGray(jpeg);
        Assert.Equal(1, gray.Channels);
        Assert.Equal(new ConvertChannels(1).Apply(colour, new Generator()).Data, gray.Data);
    }

    [Fact]
    public void Strict_MakesAnUndecodableFileAnError_NamingIt()
    {
        var folder = ImageFolder.Open(BuildFolder(), validationFraction: 0);
        var ds = new ImageDataset(folder.Train, folder.Classes, Preprocessing.Create(16, 1).Transform(), strict: true);
        var e = Assert.Throws<InvalidOperationException>(() => ds.Loader(4, workers: 2).ToList());
        Assert.Contains("broken.jpg", e.Message);
        Assert.Contains("broken.jpg", Assert.Throws<InvalidDataException>(() => ds[folder.Train.ToList().FindIndex(f => f.Path.EndsWith("broken.jpg"))]).Message);
    }

    [Fact]
    public void Augmentation_IsBitIdentical_AcrossWorkers_Cache_AndAResumeMidEpoch()
    {
        var folder = ImageFolder.Open(BuildFolder(), validationFraction: 0.25, seed: 1);
        var pre = Preprocessing.Create(20, 3, Normalize.ImageNetMean, Normalize.ImageNetStd);
        var augment = pre.TrainTransform(randomResizedCrop: true, flip: true, jitter: new ColorJitter(0.4, 0.4, 0.4));
        List<float[]> Run(int workers, bool cache, int epoch, int start = 0)
        {
            var ds = new ImageDataset(folder.Train, folder.Classes, augment, cache: cache);
            var loader = ds.Loader(batchSize: 3, shuffle: true, seed: 9, workers: workers);
            return loader.Batches(epoch, start).Select(b => b.Input.ToArray<float>()).ToList();
        }
        var reference = Run(1, cache: false, epoch: 2);
        Assert.Equal(reference, Run(3, cache: false, epoch: 2));
        Assert.Equal(reference.Skip(2), Run(2, cache: false, epoch: 2, start: 2));
        // With the cache, a second epoch decodes nothing and still draws the same augmentation.
        var cached = new ImageDataset(folder.Train, folder.Classes, augment, cache: true);
        var loader = cached.Loader(3, shuffle: true, seed: 9, workers: 2);
        _ = loader.Batches(1).ToList();
        Assert.Equal(reference, loader.Batches(2).Select(b => b.Input.ToArray<float>()).ToList());
        // A different epoch augments differently.
        Assert.NotEqual(reference, Run(2, cache: false, epoch: 3));
    }

    [Fact]
    public void ExportedDataset_ReadsBackAsAFolder_WithTheSamePixels()
    {
        var data = FashionMnist.Load(RepoPaths.TestData("fashion-mnist-sample"));
        string root = Path.Combine(_dir, "fmnist");
        var written = ImageFolderExport.Write(root, data.TestImages, data.TestLabels, FashionMnist.Classes, ImageFileType.Png, perClass: 3);
        Assert.Equal(Enumerable.Repeat(3, 10), written);
        var folder = ImageFolder.Open(root, validationFraction: 0);
        Assert.Equal(FashionMnist.Classes.Select(ImageFolderExport.FolderName).Order(StringComparer.Ordinal), folder.Classes);
        Assert.Contains("T-shirt-top", folder.Classes);
        // PNG is lossless: the first T-shirt of the test set comes back exactly.
        var labels = data.TestLabels.ToArray<int>();
        int first = Array.IndexOf(labels, 0);
        var file = folder.Train.First(f => folder.Classes[f.Label] == "T-shirt-top");
        Assert.EndsWith(first.ToString("D5") + ".png", file.Path);
        Assert.Equal(data.TestImages.Select(0, first).ToArray<float>(), Preprocessing.Create(28, 1).Load(file.Path).ToArray<float>());
        // A non-empty folder is refused unless forced.
        Assert.Contains("not empty", Assert.Throws<IOException>(() => ImageFolderExport.Write(root, data.TestImages, data.TestLabels, FashionMnist.Classes, ImageFileType.Jpeg, 1)).Message);
        ImageFolderExport.Write(root, data.TestImages, data.TestLabels, FashionMnist.Classes, ImageFileType.Jpeg, 1, force: true);
        Assert.Equal(40, ImageFolder.Open(root, 0).Train.Count);
        Assert.DoesNotContain(Directory.GetFiles(root, "*", SearchOption.AllDirectories), Fovea.IO.AtomicFile.IsTemporary);
    }

    [Fact]
    public void TheReadmeSnippetRuns()
    {
        string photos = BuildFolder();
        var folder = ImageFolder.Open(photos, validationFraction: 0.2, seed: 1);
        var pre = Preprocessing.Create(size: 64, channels: 3, Normalize.ImageNetMean, Normalize.ImageNetStd);
        var train = new ImageDataset(folder.Train, folder.Classes, pre.TrainTransform(randomResizedCrop: true, flip: true, jitter: new ColorJitter(0.4, 0.4, 0.4)));
        int skipped = 0;
        train.ImageSkipped += s => Interlocked.Increment(ref skipped);
        var loader = train.Loader(batchSize: 32, shuffle: true, seed: 1, workers: 3);
        int seen = 0;
        foreach (var (images, labels) in loader)
        {
            Assert.Equal([images.Size(0), 3, 64, 64], images.Shape);
            Assert.Equal([images.Size(0)], labels.Shape);
            seen += images.Size(0);
        }
        Assert.Equal(folder.Train.Count, seen + skipped);
        var val = new ImageDataset(folder.Validation, folder.Classes, pre.Transform());
        Assert.Equal(folder.Validation.Count, val.Count);
        Tensor x = pre.Load(folder.Validation.First(f => !f.Path.EndsWith("broken.jpg", StringComparison.Ordinal)).Path);
        Assert.Equal([3, 64, 64], x.Shape);
        Assert.Equal(pre, Preprocessing.Parse(pre.ToJson(), "checkpoint"));
    }

    private static void CopyTree(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string d in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(d.Replace(from, to, StringComparison.Ordinal));
        foreach (string f in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            File.Copy(f, f.Replace(from, to, StringComparison.Ordinal));
    }
}
