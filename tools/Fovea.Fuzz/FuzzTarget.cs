using System.Globalization;
using System.Text.Json;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;

namespace Fovea.Fuzz;

/// <summary>A public loader under test, with the valid files its mutants start from.</summary>
/// <param name="Name">What <c>--target</c> accepts.</param>
/// <param name="Extension">The extension of the files written for it (".png", ".safetensors", ...).</param>
/// <param name="Seeds">Builds the valid seed files (lazily: models and encoders take a moment).</param>
/// <param name="Load">Calls the loader on a path and returns the bytes it produced (pixels, tensors, weights).</param>
public sealed record FuzzTarget(string Name, string Extension, Func<IReadOnlyList<byte[]>> Seeds, Func<string, long> Load)
{
    /// <summary>The header length of a file, where most point mutations go; null for the whole file.</summary>
    public Func<byte[], int>? HotLength { get; init; }

    /// <summary>Whether the files are safetensors, whose JSON header gets token-level edits.</summary>
    public bool SafetensorsHeader { get; init; }

    /// <summary>
    /// Whether the loader may refuse the format altogether (a format outside the documented list): the target is
    /// then skipped rather than failed when its seeds are rejected.
    /// </summary>
    public bool FormatMayBeRefused { get; init; }
}

/// <summary>The loaders Fovea reads untrusted files with, and their seeds.</summary>
public static class Targets
{
    /// <summary>Every target, in the order <c>--target all</c> runs them.</summary>
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("image-png", ".png", () =>
            [SeedFiles.Encode("png", 8, 6, 1, 1), SeedFiles.Encode("png", 12, 9, 3, 2), SeedFiles.Encode("png", 7, 5, 4, 3), SeedFiles.Encode("png", 5, 5, 2, 4)],
            LoadImage),
        new("image-jpeg", ".jpg", () =>
            [SeedFiles.Encode("jpg", 16, 16, 1, 5), SeedFiles.Encode("jpg", 24, 17, 3, 6),
             .. SeedFiles.CommittedTestData("*.jp*g", SeedFiles.IsProgressiveJpeg).Where(f => f.Length <= 64 << 10).Take(2)],
            LoadImage),
        new("image-bmp", ".bmp", () => [SeedFiles.Encode("bmp", 9, 7, 3, 7), SeedFiles.Encode("bmp", 6, 4, 4, 8), SeedFiles.Encode("bmp", 5, 3, 1, 9)], LoadImage)
        {
            HotLength = _ => 64,
        },
        new("image-tga", ".tga", () =>
            [SeedFiles.Encode("tga", 9, 7, 3, 10), SeedFiles.Encode("tga", 6, 4, 4, 11), SeedFiles.UncompressedTga(8, 4, 3, 12), SeedFiles.UncompressedTga(5, 6, 1, 13)],
            LoadImage)
        {
            HotLength = _ => 32,
        },
        new("image-gif", ".gif", () => [SeedFiles.Gif(8, 8, 14, withControlBlock: false), SeedFiles.Gif(5, 3, 15, withControlBlock: true)], LoadImage)
        {
            FormatMayBeRefused = true,
        },
        new("idx", ".idx", () => [SeedFiles.Idx([3, 5, 4], 256, 16), SeedFiles.Idx([12], 10, 17), SeedFiles.Idx([4, 6], 256, 18)], LoadIdx)
        {
            HotLength = _ => 20,
        },
        new("idx-gz", ".idx.gz", () =>
            [SeedFiles.Gzip(SeedFiles.Idx([3, 5, 4], 256, 16)), SeedFiles.Gzip(SeedFiles.Idx([12], 10, 17)),
             .. SeedFiles.CommittedTestData("*labels-idx1-ubyte.gz", _ => true)],
            LoadIdx),
        new("safetensors", ".safetensors", SafetensorsSeeds, LoadSafetensors)
        {
            HotLength = SafetensorsHeaderEdit.HeaderEnd,
            SafetensorsHeader = true,
        },
        new("checkpoint", ".safetensors", CheckpointSeeds, LoadCheckpoint)
        {
            HotLength = SafetensorsHeaderEdit.HeaderEnd,
            SafetensorsHeader = true,
        },
        new("trained-model", ".safetensors", TrainedModelSeeds, LoadTrainedModel)
        {
            HotLength = SafetensorsHeaderEdit.HeaderEnd,
            SafetensorsHeader = true,
        },
        new("onnx", ".onnx", OnnxSeeds.All, LoadOnnx),
    ];

    /// <summary>The target called <paramref name="name"/>, or null.</summary>
    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);

    private static long LoadImage(string path) => ImageIO.Load(path).Data.LongLength * sizeof(float);

    private static long LoadOnnx(string path)
    {
        try
        {
            return Onnx.OnnxModel.Import(path).StateDict().Sum(kv => (long)kv.Value.Numel * kv.Value.DType.SizeOf());
        }
        catch (Onnx.OnnxImportException e)
        {
            // The importer's other documented refusal: a well-formed model using something Fovea does not support
            // (a mutated operator name, attribute or opset), named in the message like a malformed file.
            throw new InvalidDataException(e.Message, e);
        }
    }

    private static long LoadIdx(string path)
    {
        var (shape, data) = Idx.Read(path);
        return data.LongLength + 4L * shape.Length;
    }

    private static long LoadSafetensors(string path)
    {
        var (tensors, metadata) = SafeTensors.Load(path);
        return Bytes(tensors) + metadata.Sum(kv => 2L * (kv.Key.Length + kv.Value.Length));
    }

    private static long LoadCheckpoint(string path)
    {
        var checkpoint = Checkpoint.Load(path);
        return Bytes(checkpoint.Model) + (checkpoint.Optimizer?.State.Values.Sum(s => Bytes(s)) ?? 0);
    }

    private static long LoadTrainedModel(string path) =>
        TrainedModel.Load(path).Model.Parameters().Sum(p => (long)p.Numel * p.DType.SizeOf());

    private static long Bytes(IEnumerable<KeyValuePair<string, Tensor>> tensors) => tensors.Sum(kv => (long)kv.Value.Numel * kv.Value.DType.SizeOf());

    /// <summary>A file of every dtype Fovea reads, a scalar, an empty tensor and metadata; and a bare one.</summary>
    private static IReadOnlyList<byte[]> SafetensorsSeeds()
    {
        var g = new Generator(19);
        return
        [
            Saved(path => SafeTensors.Save(path,
            [
                new("weight", Tensor.Randn([2, 3], g)),
                new("table", Tensor.Randn([4], g).To(DType.Float64)),
                new("index", Tensor.RandInt([2, 2], 0, 100, g)),
                new("mask", Tensor.Randn([5], g).Gt(Tensor.Zeros(5))),
                new("scale", Tensor.Full([], 0.5f)),
                new("empty", Tensor.Zeros(0, 3)),
            ], new Dictionary<string, string> { ["note"] = "fuzz seed", ["count"] = "6" })),
            Saved(path => SafeTensors.Save(path, [new("w", Tensor.Randn([3, 2], g))])),
        ];
    }

    /// <summary>Checkpoints of a small network with Adam (two steps, a step schedule) and with SGD momentum.</summary>
    private static IReadOnlyList<byte[]> CheckpointSeeds()
    {
        var seeds = new List<byte[]>();
        foreach (bool adam in new[] { true, false })
        {
            var model = new Sequential(new Linear(4, 6, generator: new Generator(20)), new Tanh(), new Linear(6, 3, generator: new Generator(21)));
            Optimizer optimizer = adam ? new Adam(model.Parameters(), lr: 0.01) : new Sgd(model.Parameters(), 0.1, momentum: 0.9);
            LRScheduler? scheduler = adam ? new StepLR(optimizer, 1, 0.5) : null;
            TrainSteps(model, optimizer, 4, 3, steps: 2);
            scheduler?.Step();
            var metadata = new Dictionary<string, string> { ["epoch"] = "1", ["model"] = "tiny" };
            seeds.Add(Saved(path => new Checkpoint { Model = model.StateDict(), Optimizer = optimizer.StateDict(), Scheduler = scheduler?.StateDict(), Metadata = metadata }.Save(path)));
        }
        return seeds;
    }

    /// <summary>
    /// Zoo models with the metadata the trainer writes (what <see cref="TrainedModel.Load"/> reads: model, classes,
    /// input channels and size, epoch): LeNet-5 at its smallest input (16) with Adam state, and an MLP on 4x4 inputs.
    /// </summary>
    private static IReadOnlyList<byte[]> TrainedModelSeeds()
    {
        var seeds = new List<byte[]>();
        foreach (var (name, size, classes) in new[] { ("lenet5", 16, new[] { 0, 1, 2 }), ("mlp", 4, new[] { 3, 7 }) })
        {
            var model = ModelZoo.Create(name, 1, classes.Length, size, new Generator(22));
            Optimizer optimizer = name == "lenet5" ? new Adam(model.Parameters(), lr: 0.01) : new Sgd(model.Parameters(), 0.1);
            TrainSteps(model, optimizer, size * size, classes.Length, steps: 1, image: size);
            var metadata = new Dictionary<string, string>
            {
                ["epoch"] = "1",
                ["model"] = name,
                ["dataset"] = "fashion-mnist",
                ["classes"] = string.Join(",", classes),
                ["class_names"] = JsonSerializer.Serialize(classes.Select(c => FashionMnist.Classes[c])),
                ["in_channels"] = "1",
                ["input_size"] = size.ToString(CultureInfo.InvariantCulture),
                ["seed"] = "22",
            };
            seeds.Add(Saved(path => new Checkpoint { Model = model.StateDict(), Optimizer = optimizer.StateDict(), Metadata = metadata }.Save(path)));
        }
        return seeds;
    }

    private static void TrainSteps(Module<Tensor, Tensor> model, Optimizer optimizer, int features, int classes, int steps, int image = 0)
    {
        var loss = new CrossEntropyLoss();
        var g = new Generator(23);
        for (int s = 0; s < steps; s++)
        {
            var x = image > 0 ? Tensor.Randn([4, 1, image, image], g) : Tensor.Randn([4, features], g);
            var y = Tensor.RandInt([4], 0, classes, g);
            optimizer.ZeroGrad();
            loss.Forward(model.Forward(x), y).Backward();
            optimizer.Step();
        }
    }

    /// <summary>The bytes a writer produces, through a temporary file (Fovea's writers take paths).</summary>
    private static byte[] Saved(Action<string> write)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fovea-fuzz-seed-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            write(path);
            return File.ReadAllBytes(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
