using Fovea.Data;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Training;

namespace Fovea.Tests.Training;

/// <summary>
/// The general loop on data that is not Fashion-MNIST: a 2-D three-arm spiral (classification with an MLP and
/// dropout) and a 1-D regression (MSE, no accuracy); exact resume mid-epoch, early stopping, the best checkpoint,
/// gradient clipping and divergence.
/// </summary>
public class TrainingLoopTests
{
    /// <summary>The classic spiral: <paramref name="perClass"/> points on each of three arms, with a little noise.</summary>
    internal static (Tensor X, Tensor Y) Spiral(int perClass, ulong seed)
    {
        var noise = Tensor.Randn([3 * perClass], new Generator(seed)).ToArray<float>();
        var x = new float[3 * perClass * 2];
        var y = new int[3 * perClass];
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < perClass; i++)
            {
                int n = c * perClass + i;
                double r = (double)i / perClass, t = c * 4 + 4 * r + 0.2 * noise[n];
                x[2 * n] = (float)(r * Math.Sin(t));
                x[2 * n + 1] = (float)(r * Math.Cos(t));
                y[n] = c;
            }
        return (Tensor.FromArray(x, 3 * perClass, 2), Tensor.FromArray(y, 3 * perClass));
    }

    private static Sequential SpiralNet(ulong seed)
    {
        var g = new Generator(seed);
        return new Sequential(new Linear(2, 48, generator: g), new ReLU(), new Dropout(0.1, g), new Linear(48, 48, generator: g), new ReLU(), new Linear(48, 3, generator: g));
    }

    /// <summary>A spiral run: 300 training points in batches of 32 (10 per epoch), 150 validation points.</summary>
    private static TrainingLoop SpiralLoop(Module<Tensor, Tensor> model, int epochs, Action<string, TrainingState>? writer = null, Func<TrainingLoop, TrainingLoop>? change = null)
    {
        var (x, y) = Spiral(100, 1);
        var (vx, vy) = Spiral(50, 2);
        var ce = new CrossEntropyLoss();
        var opt = new Adam(model.Parameters(), lr: 0.02);
        var loop = new TrainingLoop(model, ce.Forward, opt, BatchSource.From(DataLoader.FromTensors(x, y, 32, shuffle: true, seed: 3)), epochs)
        {
            Scheduler = new CosineAnnealingLR(opt, epochs * 10),
            SchedulePerBatch = true,
            Validation = DataLoader.FromTensors(vx, vy, 64),
            CheckpointWriter = writer,
            CheckpointPath = writer is null ? null : "last",
            BestCheckpointPath = writer is null ? null : "best",
        };
        return change?.Invoke(loop) ?? loop;
    }

    /// <summary>An in-memory checkpoint store: deep copies, since a state dict shares the model's storage.</summary>
    private sealed class MemoryStore
    {
        public Dictionary<string, TrainingState> Saved { get; } = [];

        public List<(string Path, int Epoch)> Writes { get; } = [];

        public void Write(string path, TrainingState s)
        {
            var model = new StateDict();
            foreach (var (k, t) in s.Model) model.Add(k, t.Clone());
            var opt = new OptimizerState { Optimizer = s.Optimizer!.Optimizer };
            opt.ParamGroups.AddRange(s.Optimizer.ParamGroups);
            foreach (var (i, st) in s.Optimizer.State) opt.State[i] = st.ToDictionary(kv => kv.Key, kv => kv.Value.Clone());
            Saved[path] = new TrainingState
            {
                Model = model,
                Optimizer = opt,
                Scheduler = s.Scheduler?.ToDictionary(kv => kv.Key, kv => kv.Value),
                CompletedEpochs = s.CompletedEpochs,
                Position = s.Position,
                History = s.History.ToList(),
            };
            Writes.Add((path, s.CompletedEpochs));
        }
    }

    private static void AssertSameWeights(Module a, Module b)
    {
        foreach (var ((name, x), (_, y)) in a.NamedParameters().Zip(b.NamedParameters()))
            Assert.True(x.Equal(y), $"{name} differs");
    }

    [Fact]
    public void Spiral_IsLearned_WellAboveChance()
    {
        var loop = SpiralLoop(SpiralNet(5), epochs: 30);
        var result = loop.Run();
        Assert.Equal(30, result.History.Count);
        Assert.False(result.Cancelled || result.StoppedEarly);
        Assert.True(result.History[^1].TrainLoss < 0.5 * result.History[0].TrainLoss);
        // A linear model cannot separate the arms (about 0.5 at best); the MLP can.
        Assert.True(result.History[^1].ValidationAccuracy > 0.85, $"validation accuracy {result.History[^1].ValidationAccuracy}");
    }

    [Fact]
    public void Regression_WithMse_LearnsAndReportsNoAccuracy()
    {
        var x = Tensor.Linspace(-3, 3, 128).Reshape(128, 1);
        var y = x.Sin();
        var g = new Generator(2);
        var model = new Sequential(new Linear(1, 32, generator: g), new Tanh(), new Linear(32, 1, generator: g));
        var mse = new MSELoss();
        var progress = new List<BatchProgress>();
        var loop = new TrainingLoop(model, mse.Forward, new Adam(model.Parameters(), lr: 0.02), BatchSource.From(DataLoader.FromTensors(x, y, 16, shuffle: true, seed: 1)), 40)
        {
            Validation = DataLoader.FromTensors(x, y, 128),
            Monitor = MonitoredMetric.Parse("val_loss"),
        };
        var result = loop.Run(new Progress(progress.Add));
        Assert.True(result.History[^1].ValidationLoss < 0.01, $"validation MSE {result.History[^1].ValidationLoss}");
        Assert.All(result.History, e => Assert.True(double.IsNaN(e.TrainAccuracy) && double.IsNaN(e.ValidationAccuracy)));
        Assert.All(progress, p => Assert.True(double.IsNaN(p.RunningAccuracy)));
        Assert.Equal(40 * 8, progress.Count);
    }

    [Fact]
    public void CancelledMidEpoch_ThenRestored_EqualsTheStraightRun_BitForBit()
    {
        // Dropout draws masks every batch and the schedule steps per batch: both must resume where they stood.
        var straight = SpiralLoop(SpiralNet(7), epochs: 3);
        straight.Run();

        var store = new MemoryStore();
        var first = SpiralLoop(SpiralNet(7), epochs: 3, store.Write);
        using var cts = new CancellationTokenSource();
        var stopped = first.Run(new Progress(p => { if (p.Epoch == 2 && p.Batch == 4) cts.Cancel(); }), cancel: cts.Token);
        Assert.True(stopped.Cancelled);
        var saved = store.Saved["last"];
        Assert.Equal((1, 4), (saved.CompletedEpochs, saved.Position!.Batch));
        Assert.Contains(saved.Model.Keys, k => k.EndsWith("rng_state", StringComparison.Ordinal));

        // A fresh model of another seed: everything it needs comes from the state.
        var resumed = SpiralLoop(SpiralNet(99), epochs: 3);
        resumed.Restore(saved);
        Assert.Equal(4, resumed.Position!.Batch);
        var result = resumed.Run();
        Assert.False(result.Cancelled);
        AssertSameWeights(straight.Model, resumed.Model);
        Assert.Equal(straight.History.Select(e => (e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy)),
            resumed.History.Select(e => (e.TrainLoss, e.TrainAccuracy, e.ValidationLoss, e.ValidationAccuracy)));
    }

    [Fact]
    public void EarlyStopping_EndsTheRun_AfterPatienceEpochsWithoutImprovement_AndResumesAsEnded()
    {
        var store = new MemoryStore();
        // The training loss falls every epoch, so "higher is better" never improves after the first epoch.
        var loop = SpiralLoop(SpiralNet(5), epochs: 20, store.Write, l => new TrainingLoop(l.Model, l.Loss, l.Optimizer, l.Train, l.Epochs)
        {
            Validation = l.Validation,
            Monitor = MonitoredMetric.Parse("train_loss:max"),
            EarlyStoppingPatience = 2,
            CheckpointWriter = store.Write,
            CheckpointPath = "last",
            BestCheckpointPath = "best",
        });
        var result = loop.Run();
        Assert.True(result.StoppedEarly);
        Assert.Equal(3, result.CompletedEpochs);
        Assert.Equal(1, result.BestEpoch);
        Assert.Equal([("last", 1), ("best", 1), ("last", 2), ("last", 3)], store.Writes);

        var again = SpiralLoop(SpiralNet(5), epochs: 20, change: l => new TrainingLoop(l.Model, l.Loss, l.Optimizer, l.Train, l.Epochs)
        {
            Monitor = MonitoredMetric.Parse("train_loss:max"),
            EarlyStoppingPatience = 2,
        });
        again.Restore(store.Saved["last"]);
        var after = again.Run();
        Assert.True(after.StoppedEarly);
        Assert.Equal(3, after.CompletedEpochs);
    }

    [Fact]
    public void BestCheckpoint_IsWrittenForEachImprovingEpoch_AndHoldsThatEpochsWeights()
    {
        var store = new MemoryStore();
        var loop = SpiralLoop(SpiralNet(5), epochs: 6, store.Write, l => new TrainingLoop(l.Model, l.Loss, l.Optimizer, l.Train, l.Epochs)
        {
            Validation = l.Validation,
            Monitor = MonitoredMetric.Parse("val_accuracy"),
            CheckpointWriter = store.Write,
            CheckpointPath = "last",
            BestCheckpointPath = "best",
        });
        var result = loop.Run();
        var accuracies = result.History.Select(e => e.ValidationAccuracy).ToList();
        int best = accuracies.IndexOf(accuracies.Max()) + 1;
        Assert.Equal(best, result.BestEpoch);
        var bestWrites = store.Writes.Where(w => w.Path == "best").Select(w => w.Epoch).ToList();
        // Written exactly at the epochs that beat every earlier one.
        var improving = Enumerable.Range(0, 6).Where(i => accuracies.Take(i).All(a => accuracies[i] > a)).Select(i => i + 1).ToList();
        Assert.Equal(improving, bestWrites);
        Assert.Equal(best, store.Saved["best"].CompletedEpochs);
    }

    [Fact]
    public void ClipGradNorm_ScalesToTheMaximum_AndReturnsTheNormBefore()
    {
        var a = Tensor.Zeros(2).RequiresGrad_();
        var b = Tensor.Zeros(1).RequiresGrad_();
        var c = Tensor.Zeros(1).RequiresGrad_(); // no gradient: skipped
        a.Grad = Tensor.FromArray(new float[] { 3, 4 }, 2);
        b.Grad = Tensor.FromArray(new float[] { 12 }, 1);
        double norm = GradientClipping.ClipGradNorm([a, b, c], 6.5);
        Assert.Equal(13, norm, 6); // √(9 + 16 + 144)
        double factor = 6.5 / (13 + 1e-6);
        Assert.Equal([(float)(3 * factor), (float)(4 * factor)], a.Grad!.ToArray<float>());
        Assert.Equal((float)(12 * factor), b.Grad!.ToArray<float>()[0]);
        Assert.Null(c.Grad);

        // Under the maximum: untouched. The ∞-norm is the largest element.
        Assert.Equal(6.5, GradientClipping.ClipGradNorm([a, b], 100), 5);
        Assert.Equal((float)(12 * factor), b.Grad!.ToArray<float>()[0]);
        Assert.Equal(12 * factor, GradientClipping.ClipGradNorm([a, b], 1, double.PositiveInfinity), 5);
        Assert.Equal(1, b.Grad!.ToArray<float>()[0], 5);
    }

    [Fact]
    public void ClipGradValue_Clamps_AndBoundsEveryStepOfTheLoop()
    {
        var w = Tensor.Zeros(3).RequiresGrad_();
        w.Grad = Tensor.FromArray(new float[] { -5, 0.25f, 9 }, 3);
        GradientClipping.ClipGradValue([w], 0.5);
        Assert.Equal([-0.5f, 0.25f, 0.5f], w.Grad!.ToArray<float>());

        // Plain SGD with rate 1 moves each weight by its clipped gradient: at most 0.01 per step.
        var (x, y) = Spiral(20, 4);
        var model = SpiralNet(3);
        var before = model.Parameters().Select(p => p.Clone()).ToList();
        var loop = new TrainingLoop(model, new CrossEntropyLoss().Forward, new Sgd(model.Parameters(), lr: 1), BatchSource.Fixed((x, y)), 1) { ClipGradValue = 0.01 };
        loop.Run();
        foreach (var (p, q) in model.Parameters().Zip(before))
            Assert.True(p.Sub(q).Abs().Max().ToScalar() <= 0.01 + 1e-7);
        Assert.Contains(model.Parameters().Zip(before), pq => pq.First.Sub(pq.Second).Abs().Max().ToScalar() > 0.009);
    }

    [Fact]
    public void ClipGradNorm_InTheLoop_LimitsTheStep()
    {
        var (x, y) = Spiral(20, 4);
        var model = SpiralNet(3);
        var before = model.Parameters().Select(p => p.Clone()).ToList();
        new TrainingLoop(model, new CrossEntropyLoss().Forward, new Sgd(model.Parameters(), lr: 1), BatchSource.Fixed((x, y)), 1) { ClipGradNorm = 0.05 }.Run();
        double squares = model.Parameters().Zip(before).Sum(pq => pq.First.Sub(pq.Second).To(DType.Float64).Square().Sum().ToScalar());
        Assert.InRange(Math.Sqrt(squares), 0.049, 0.0501); // the whole step is the clipped gradient: norm 0.05
    }

    [Fact]
    public void NonFiniteLoss_Throws_BeforeTheStep_AndWritesNothing()
    {
        var store = new MemoryStore();
        var (x, y) = Spiral(10, 4);
        var model = SpiralNet(3);
        int calls = 0;
        // The third batch's loss is NaN.
        Tensor Loss(Tensor o, Tensor t) => ++calls == 3 ? new CrossEntropyLoss().Forward(o, t).Mul(double.NaN) : new CrossEntropyLoss().Forward(o, t);
        var loop = new TrainingLoop(model, Loss, new Sgd(model.Parameters(), lr: 0.1), BatchSource.Fixed((x, y), (x, y), (x, y), (x, y)), 2)
        {
            CheckpointWriter = store.Write,
            CheckpointPath = "last",
        };
        var e = Assert.Throws<TrainingDivergedException>(() => loop.Run());
        Assert.Equal((1, 3), (e.Epoch, e.Batch));
        Assert.StartsWith("training stopped at epoch 1, batch 3: the loss is NaN", e.Message);
        Assert.Empty(store.Writes);
    }

    [Fact]
    public void Restore_RefusesAStateThatCannotBeThisRuns()
    {
        var store = new MemoryStore();
        var loop = SpiralLoop(SpiralNet(5), epochs: 1, store.Write);
        loop.Run();
        var saved = store.Saved["last"];
        var other = SpiralLoop(new Sequential(new Linear(2, 3)), epochs: 2);
        Assert.StartsWith("the weights do not fit", Assert.Throws<ArgumentException>(() => other.Restore(saved)).Message);
        var fresh = SpiralLoop(SpiralNet(5), epochs: 2);
        Assert.Contains("history", Assert.Throws<ArgumentException>(() => fresh.Restore(new TrainingState { Model = saved.Model, CompletedEpochs = 1 })).Message);
        Assert.Contains("position", Assert.Throws<ArgumentException>(() => fresh.Restore(new TrainingState
        {
            Model = saved.Model,
            Scheduler = saved.Scheduler,
            CompletedEpochs = 1,
            History = saved.History,
            Position = new EpochPosition(10, 0, 0, 0, 0),
        })).Message);
        Assert.Contains("scheduler", Assert.Throws<ArgumentException>(() => fresh.Restore(new TrainingState { Model = saved.Model, CompletedEpochs = 1, History = saved.History })).Message);
    }

    [Fact]
    public void MonitoredMetric_ParsesNamesAndDirections()
    {
        Assert.Equal(new MonitoredMetric(TrainingMetric.ValidationAccuracy), MonitoredMetric.Parse("val_accuracy"));
        Assert.True(MonitoredMetric.Parse("val_accuracy").Maximizes);
        Assert.False(MonitoredMetric.Parse("val_loss").Maximizes);
        Assert.True(MonitoredMetric.Parse("train_loss:max").Maximizes);
        Assert.Equal("val_loss (min)", MonitoredMetric.Parse("VAL_LOSS").ToString());
        Assert.Throws<ArgumentException>(() => MonitoredMetric.Parse("accuracy"));
        Assert.Throws<ArgumentException>(() => MonitoredMetric.Parse("val_loss:up"));
        var m = new MonitoredMetric(TrainingMetric.ValidationLoss, MinDelta: 0.1);
        Assert.False(m.Improves(0.95, 1.0));
        Assert.True(m.Improves(0.85, 1.0));
        Assert.False(m.Improves(double.NaN, 1.0));
        Assert.True(m.Improves(5, double.NaN));
    }

    [Fact]
    public void OneHot_PutsOnesAtTheClasses_AndRefusesAnIndexOutOfRange()
    {
        var h = Classification.OneHot(Tensor.FromArray(new[] { 2, 0 }, 2), 3);
        Assert.Equal([0f, 0, 1, 1, 0, 0], h.ToArray<float>());
        Assert.Throws<ArgumentException>(() => Classification.OneHot(Tensor.FromArray(new[] { 3 }, 1), 3));
        Assert.Equal(1, Classification.Correct(Tensor.FromArray(new float[] { 0, 1, 5, 2 }, 2, 2), Tensor.FromArray(new[] { 1, 1 }, 2)));
        Assert.Null(Classification.CorrectIfClassification(Tensor.Zeros(2, 1), Tensor.Zeros(2, 1)));
    }

    private sealed class Progress(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
}
