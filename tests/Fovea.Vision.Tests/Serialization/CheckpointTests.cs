using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Serialization;

namespace Fovea.Vision.Tests.Serialization;

public class CheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"ckpt-{Guid.NewGuid():N}");

    public CheckpointTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential Model() => new(new Linear(4, 8, generator: new Generator(1)), new Tanh(), new Linear(8, 3, generator: new Generator(2)));

    private static void Steps(Sequential model, Optimizer opt, int from, int count)
    {
        var loss = new CrossEntropyLoss();
        for (int s = from; s < from + count; s++)
        {
            var g = new Generator(100 + (ulong)s);
            var x = Tensor.Randn([16, 4], g);
            var y = Tensor.RandInt([16], 0, 3, g);
            opt.ZeroGrad();
            loss.Forward(model.Forward(x), y).Backward();
            opt.Step();
        }
    }

    [Fact]
    public void ResumeFromCheckpoint_EqualsAnUninterruptedRun()
    {
        var straight = Model();
        var optA = new Adam(straight.Parameters(), lr: 0.01);
        Steps(straight, optA, 0, 6);

        var first = Model();
        var optB = new Adam(first.Parameters(), lr: 0.01);
        Steps(first, optB, 0, 3);
        string path = Path.Combine(_dir, "run.safetensors");
        new Checkpoint { Model = first.StateDict(), Optimizer = optB.StateDict(), Metadata = { ["epoch"] = "3", ["model"] = "mlp" } }.Save(path);

        var ckpt = Checkpoint.Load(path);
        Assert.Equal(3, ckpt.GetInt("epoch"));
        Assert.Equal("mlp", ckpt.Metadata["model"]);
        var resumed = Model();
        resumed.LoadStateDict(ckpt.Model);
        var optC = new Adam(resumed.Parameters(), lr: 0.01);
        optC.LoadStateDict(ckpt.Optimizer!);
        Steps(resumed, optC, 3, 3);

        foreach (var ((name, a), (_, b)) in straight.NamedParameters().Zip(resumed.NamedParameters()))
            Assert.True(a.Equal(b), $"{name} differs after resuming");
    }

    [Fact]
    public void PlainSafetensorsFile_IsNotACheckpoint()
    {
        string path = Path.Combine(_dir, "plain.safetensors");
        SafeTensors.Save(path, [new("w", Tensor.Ones(2))]);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(path));
        Assert.Contains("not a Fovea checkpoint", e.Message);
        Assert.Contains("plain.safetensors", e.Message);
    }

    [Fact]
    public void ModelWeights_AreReadableAsPlainSafetensors()
    {
        var model = Model();
        string path = Path.Combine(_dir, "m.safetensors");
        new Checkpoint { Model = model.StateDict() }.Save(path);
        var (tensors, _) = SafeTensors.Load(path);
        Assert.Equal(["0.weight", "0.bias", "2.weight", "2.bias"], tensors.Keys);
    }
}
