using System.Buffers.Binary;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Models;
using Fovea.Vision.Serialization;
using Fovea.Vision.Training;

namespace Fovea.Vision.Tests.Serialization;

/// <summary>
/// Checkpoints whose metadata lies: absurd or malformed numbers, unknown models, models far larger than the weights
/// in the file, malformed optimizer groups and scheduler state. Each must be an <see cref="InvalidDataException"/>
/// naming the file and the key, and must not build what the metadata describes.
/// </summary>
public class CheckpointHostileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"ckpt-hostile-{Guid.NewGuid():N}");

    public CheckpointHostileTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A small valid model: the zoo's MLP on 4x4 gray images, three classes.</summary>
    private static Module<Tensor, Tensor> SmallModel() => ModelZoo.Create("mlp", 1, 3, 4, new Generator(3));

    private static Dictionary<string, string> ValidMetadata() => new()
    {
        ["model"] = "mlp",
        ["classes"] = "0,4,9",
        ["in_channels"] = "1",
        ["input_size"] = "4",
        ["epoch"] = "2",
    };

    /// <summary>Writes a checkpoint of <paramref name="model"/> (or no weights) whose metadata is the valid one changed by <paramref name="edit"/>.</summary>
    private string Write(Action<Dictionary<string, string>> edit, Module<Tensor, Tensor>? model = null, bool withWeights = true)
    {
        var meta = ValidMetadata();
        edit(meta);
        string path = Path.Combine(_dir, "hostile.safetensors");
        new Checkpoint { Model = withWeights ? (model ?? SmallModel()).StateDict() : new StateDict(), Metadata = meta }.Save(path);
        return path;
    }

    [Fact]
    public void TheValidCheckpoint_Loads()
    {
        var model = TrainedModel.Load(Write(_ => { }));
        Assert.Equal([0, 4, 9], model.ClassLabels);
        Assert.Equal(4, model.InputSize);
        Assert.Equal(2, model.Epoch);
    }

    /// <summary>Strings that are not a small whole number: overflowing, negative, fractional, exponent, NaN, empty, padded.</summary>
    private static readonly string[] BadIntegers = ["99999999999", "-99999999999", "NaN", "1e3", "1.0", "", " 1", "0x10", "１", "1,2", "∞"];

    public static TheoryData<string, string> BadNumbers()
    {
        var data = new TheoryData<string, string>();
        foreach (var key in new[] { "in_channels", "input_size", "epoch" })
            foreach (var v in BadIntegers.Append("-1"))
                data.Add(key, v);
        foreach (var v in new[] { "0", "65", "1000" }) data.Add("in_channels", v);
        foreach (var v in new[] { "0", "4097", "2147483647" }) data.Add("input_size", v);
        foreach (var v in BadIntegers.Where(v => v != "1,2").Concat(["-1", "10", "1,1,2", "0,,4", "0,4,", "a,b", "0;4;9"]))
            data.Add("classes", v);
        return data;
    }

    [Theory]
    [MemberData(nameof(BadNumbers))]
    public void MalformedOrOutOfRangeMetadata_NamesTheFileAndTheKey(string key, string value)
    {
        string path = Write(m => m[key] = value);
        HostileInput.Refused(() => TrainedModel.Load(path), [path, $"'{key}'"]);
    }

    [Theory]
    [InlineData("nosuch")]
    [InlineData("")]
    [InlineData("mlp\u0000")]
    [InlineData("../../mlp")]
    public void UnknownModel_NamesTheFileAndTheKey(string name)
    {
        string path = Write(m => m["model"] = name);
        HostileInput.Refused(() => TrainedModel.Load(path), [path, "'model'", "not a model of the zoo"]);
    }

    [Fact]
    public void MissingModel_NamesTheFileAndTheKey()
    {
        string path = Write(m => m.Remove("model"));
        HostileInput.Refused(() => TrainedModel.Load(path), [path, "'model'"]);
    }

    [Theory]
    [InlineData(1, 2000)]
    [InlineData(1, 512)]
    [InlineData(64, 28)]
    public void MetadataDescribingAModelFarLargerThanTheWeights_IsRefusedBeforeBuildingIt(int channels, int size)
    {
        string path = Write(m => { m["in_channels"] = $"{channels}"; m["input_size"] = $"{size}"; });
        HostileInput.Refused(() => TrainedModel.Load(path), [path, $"in_channels {channels}, input_size {size}", "bytes of weights"]);
    }

    /// <summary>The attack of a tiny file: no weights at all, any zoo model at its largest declared size.</summary>
    [Fact]
    public void EveryZooModel_DescribedByAFileWithoutWeights_IsRefusedCheaply()
    {
        foreach (var name in ModelZoo.Names)
        {
            string path = Write(m => { m["model"] = name; m["input_size"] = "2000"; }, withWeights: false);
            Assert.True(new FileInfo(path).Length < 1024);
            // Models that stay small at any input size (the CIFAR ResNets) are built and then refused for lacking weights.
            HostileInput.Refused(() => TrainedModel.Load(path), [path, name]);
        }
    }

    [Theory]
    [InlineData("lenet5", "1")]
    [InlineData("resnet18", "1")]
    [InlineData("fmnist_cnn", "2")]
    public void SizeAModelCannotBeBuiltFor_NamesTheFile(string name, string size)
    {
        string path = Write(m => { m["model"] = name; m["input_size"] = size; });
        HostileInput.Refused(() => TrainedModel.Load(path), [path, $"model {name}"]);
    }

    [Theory]
    [InlineData("0,4")]
    [InlineData("0,1,2,3")]
    public void ClassCountThatDoesNotMatchTheWeights_NamesTheFile(string classes)
    {
        string path = Write(m => m["classes"] = classes);
        HostileInput.Refused(() => TrainedModel.Load(path), [path, "do not fit"]);
    }

    public static TheoryData<string, string> BadParamGroups() => new()
    {
        { "{", "not valid JSON" },
        { "{}", "expected an array" },
        { "5", "expected an array" },
        { "[1]", "[0]" },
        { "[{}]", "[0]" },
        { "[{\"options\":{\"lr\":\"x\"},\"params\":[0]}]", "[0].options.lr" },
        { "[{\"options\":{\"lr\":null},\"params\":[0]}]", "[0].options.lr" },
        { "[{\"options\":{\"lr\":1e999},\"params\":[0]}]", "[0].options.lr" },
        { "[{\"options\":{\"lr\":1,\"lr\":2},\"params\":[0]}]", "'lr' twice" },
        { "[{\"options\":[],\"params\":[0]}]", "[0].options" },
        { "[{\"options\":{},\"params\":{}}]", "[0].params" },
        { "[{\"options\":{},\"params\":[1e10]}]", "[0].params[0]" },
        { "[{\"options\":{},\"params\":[0,-1]}]", "[0].params[1]" },
        { "[{\"options\":{},\"params\":[0.5]}]", "[0].params[0]" },
        { "[{\"options\":{},\"params\":[\"0\"]}]", "[0].params[0]" },
        { "[{\"options\":{},\"params\":[0]},{\"options\":{},\"options\":{},\"params\":[1]}]", "[1] has the key 'options' twice" },
    };

    [Theory]
    [MemberData(nameof(BadParamGroups))]
    public void MalformedOptimizerGroups_NameTheFileAndTheField(string json, string expected)
    {
        string path = Write(m => { m["optimizer"] = "Adam"; m["optimizer.param_groups"] = json; });
        HostileInput.Refused(() => Checkpoint.Load(path), [path, "'optimizer.param_groups'", expected]);
        HostileInput.Refused(() => TrainedModel.Load(path), [path, "'optimizer.param_groups'", expected]);
    }

    [Theory]
    [InlineData("x", "not valid JSON")]
    [InlineData("null", "expected an object")]
    [InlineData("[]", "expected an object")]
    [InlineData("{\"last_epoch\":\"1\"}", "last_epoch")]
    [InlineData("{\"last_epoch\":null}", "last_epoch")]
    [InlineData("{\"last_epoch\":{}}", "last_epoch")]
    [InlineData("{\"last_epoch\":1e999}", "last_epoch")]
    [InlineData("{\"last_epoch\":1,\"last_epoch\":2}", "'last_epoch' twice")]
    public void MalformedSchedulerState_NamesTheFileAndTheField(string json, string expected)
    {
        string path = Write(m => m["scheduler"] = json);
        HostileInput.Refused(() => Checkpoint.Load(path), [path, "'scheduler'", expected]);
    }

    [Theory]
    [InlineData("__optimizer__.x.exp_avg")]
    [InlineData("__optimizer__.-1.exp_avg")]
    [InlineData("__optimizer__.5")]
    [InlineData("__optimizer__..m")]
    [InlineData("__optimizer__.99999999999.m")]
    public void MalformedOptimizerEntry_NamesTheFileAndTheEntry(string name)
    {
        string path = Path.Combine(_dir, "opt.safetensors");
        var sd = new StateDict { [name] = Tensor.Ones(2) };
        new Checkpoint { Model = sd, Metadata = { ["optimizer"] = "Adam" } }.Save(path);
        HostileInput.Refused(() => Checkpoint.Load(path), [path, "malformed optimizer entry", name]);
    }

    /// <summary>Random values for each metadata key: numbers of every magnitude and sign, fractions, words, unicode.</summary>
    [Fact]
    public void RandomMetadataValues_LoadOrAreRefusedNamingTheKey()
    {
        var rng = new Random(30);
        string[] words = ["", "NaN", "-", "mlp", "lenet5", "e", ",", "٣", "0x1F", "\u0000", "1_000"];
        string RandomValue() => rng.Next(3) switch
        {
            0 => ((long)(Math.Pow(10, rng.NextDouble() * 12) * (rng.Next(4) == 0 ? -1 : 1))).ToString(System.Globalization.CultureInfo.InvariantCulture),
            1 => (rng.NextDouble() * 100 - 10).ToString("G5", System.Globalization.CultureInfo.InvariantCulture),
            _ => string.Join(rng.Next(2) == 0 ? "," : "", Enumerable.Range(0, 1 + rng.Next(3)).Select(_ => words[rng.Next(words.Length)])),
        };
        string[] keys = ["model", "classes", "in_channels", "input_size", "epoch"];
        for (int trial = 0; trial < 200; trial++)
        {
            string key = keys[rng.Next(keys.Length)], value = RandomValue();
            string path = Write(m => m[key] = value);
            long before = GC.GetAllocatedBytesForCurrentThread();
            HostileInput.SucceedsOrRefuses(() => TrainedModel.Load(path), path, $"trial {trial}: {key} = '{value}'");
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < HostileInput.AllocationLimit, $"trial {trial}: {key} = '{value}' allocated too much");
        }
    }

    [Fact]
    public void RandomByteMutationsOfACheckpoint_OnlyEverThrowInvalidData()
    {
        var model = SmallModel();
        var opt = new Adam(model.Parameters(), lr: 0.01);
        new CrossEntropyLoss().Forward(model.Forward(Tensor.Randn([4, 1, 4, 4], new Generator(4))), Tensor.From(0, 1, 2, 0)).Backward();
        opt.Step();
        string seed = Path.Combine(_dir, "seed.safetensors");
        new Checkpoint { Model = model.StateDict(), Optimizer = opt.StateDict(), Scheduler = new Dictionary<string, double> { ["last_epoch"] = 2 }, Metadata = ValidMetadata() }.Save(seed);
        Assert.Equal(2, TrainedModel.Load(seed).Epoch);
        var original = File.ReadAllBytes(seed);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(original);
        var rng = new Random(40);
        string path = Path.Combine(_dir, "mutant.safetensors");
        for (int trial = 0; trial < 300; trial++)
        {
            var (bytes, what) = Mutations.Apply(original, headerEnd, rng);
            File.WriteAllBytes(path, bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            HostileInput.SucceedsOrRefuses(() => TrainedModel.Load(path), path, $"trial {trial} ({what})");
            HostileInput.SucceedsOrRefuses(() => Checkpoint.Load(path), path, $"trial {trial} ({what})");
            Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < HostileInput.AllocationLimit, $"trial {trial} ({what}) allocated too much");
        }
    }
}
