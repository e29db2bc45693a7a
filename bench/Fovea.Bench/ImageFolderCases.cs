using System.Diagnostics;
using Fovea.Data;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Models;
using Fovea.Vision.Transforms;

namespace Fovea.Bench;

/// <summary>
/// Training from an image folder: one epoch of LeNet-5 (batch 64, SGD lr 0.01 momentum 0.9, cross-entropy) on a folder
/// of 28x28 JPEGs, with <see cref="ImageDataset"/> decoding and augmenting (random horizontal flip) on the loader's
/// worker threads while the step runs, against the same epoch on the same images decoded up front into tensors (the
/// anchor column; target ratio ≤ 1.1). The cached case keeps the decoded images in memory, so from the second epoch on
/// only the augmentation runs. Extra columns: the decode + augment rate of one core (images per second of processor
/// time, measured alone on the calling thread, so a busy machine does not lower it), the workers the loader used, and
/// the peak working set sampled during each side.
/// The folder is written once from Fashion-MNIST's test set (random images when it is not installed):
/// <see cref="PerClass"/> images of each of the 10 classes.
/// </summary>
public sealed class ImageFolderEpochCase(bool cache) : BenchCase
{
    /// <summary>Images per class in the folder.</summary>
    public const int PerClass = 300;

    private const int BatchSize = 64;

    private readonly string _root = Path.Combine(Path.GetTempPath(), $"fovea-bench-folder-{Environment.ProcessId}");
    private ImageFolder? _folder;
    private ImageDataset? _dataset;
    private DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>? _streaming, _preloaded;
    private Module<Tensor, Tensor>? _model, _model2;
    private Sgd? _opt, _opt2;
    private readonly CrossEntropyLoss _loss = new();
    private double _decodePerSecond;
    private int _workers;

    /// <inheritdoc/>
    public override string Name => cache ? "imagefolder-lenet5-epoch-cached" : "imagefolder-lenet5-epoch";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["images", "workers", "decode_augment_img_per_cpu_s", "fovea_peak_ws_mb", "anchor_peak_ws_mb"];

    /// <summary>Streaming (every epoch decodes) and cached.</summary>
    public static IEnumerable<BenchCase> All()
    {
        yield return new ImageFolderEpochCase(cache: false);
        yield return new ImageFolderEpochCase(cache: true);
    }

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_folder is null)
        {
            Tensor images, labels;
            if (FashionMnist.Locate(null) is not null)
            {
                var data = FashionMnist.Load();
                (images, labels) = (data.TestImages, data.TestLabels);
            }
            else
            {
                Console.Error.WriteLine("# Fashion-MNIST not found: the image folder holds random images");
                var g = new Generator(5);
                (images, labels) = (Tensor.Rand([PerClass * 10, 1, 28, 28], g), Tensor.FromArray(Enumerable.Range(0, PerClass * 10).Select(i => i % 10).ToArray(), PerClass * 10));
            }
            if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
            ImageFolderExport.Write(_root, images, labels, FashionMnist.Classes, ImageFileType.Jpeg, PerClass, quality: 90);
            _folder = ImageFolder.Open(_root, validationFraction: 0);
        }
        var pre = Preprocessing.Create(28, 1);
        var augment = pre.TrainTransform(randomResizedCrop: false, flip: true);
        _dataset = new ImageDataset(_folder.Train, _folder.Classes, augment, cache);
        // Worker threads use the cores the training step leaves free (at least one).
        _workers = Math.Max(1, Environment.ProcessorCount - threads);
        _streaming = _dataset.Loader(BatchSize, shuffle: true, seed: 1, workers: _workers, prefetch: 4);

        // The anchor: every image decoded and prepared once, then batches gathered from tensors.
        var all = new ImageDataset(_folder.Train, _folder.Classes, pre.Transform());
        var (x, y) = DataLoader.Stack(Enumerable.Range(0, all.Count).Select(i => all[i]).ToList());
        _preloaded = DataLoader.FromTensors(x, y, BatchSize, shuffle: true, seed: 1);

        // One core's decode + augment rate, alone (after a pass that gets the code compiled), per second of processor
        // time: whole batches made as the loader's workers make them (decoded and augmented into the batch's storage).
        var probe = new ImageDataset(_folder.Train, _folder.Classes, augment);
        var order = Enumerable.Range(0, probe.Count).ToArray();
        void Pass(int epoch)
        {
            for (int start = 0; start < order.Length; start += BatchSize)
                probe.TryGetBatch(order.AsSpan(start, Math.Min(BatchSize, order.Length - start)), 1, epoch, out _);
        }
        Pass(0);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        Pass(1);
        _decodePerSecond = probe.Count / (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;

        (_model, _model2) = (new LeNet5(), new LeNet5());
        (_opt, _opt2) = (new Sgd(_model.Parameters(), 0.01, momentum: 0.9), new Sgd(_model2.Parameters(), 0.01, momentum: 0.9));
        MemorySampler.Start();
    }

    private void Epoch(IEnumerable<(Tensor Input, Tensor Target)> batches, Module<Tensor, Tensor> model, Sgd opt)
    {
        model.Train();
        foreach (var (x, y) in batches)
        {
            opt.ZeroGrad();
            var loss = _loss.Forward(model.Forward(x), y);
            loss.Backward();
            opt.Step();
            loss.ToScalar();
        }
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        using var _ = MemorySampler.Side(0);
        Epoch(_streaming!, _model!, _opt!);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var _ = MemorySampler.Side(1);
        Epoch(_preloaded!, _model2!, _opt2!);
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs) =>
        [_dataset!.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), _workers.ToString(System.Globalization.CultureInfo.InvariantCulture),
            Harness.F(_decodePerSecond, "0"), Harness.F(MemorySampler.PeakMb(0), "0"), Harness.F(MemorySampler.PeakMb(1), "0")];

    /// <inheritdoc/>
    public override void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
        base.Dispose();
    }
}
