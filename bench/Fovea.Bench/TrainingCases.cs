using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Fovea.Bench;

/// <summary>
/// Training throughput: the README's recipe (batch 64, SGD lr 0.01 momentum 0.9, cross-entropy, inputs in [0, 1]) on
/// Fashion-MNIST for LeNet-5 and the MLP 784-256-128-10, Fovea against the same network in TorchSharp. To keep a
/// bench run short each timed run is <see cref="Batches"/> batches (gather, forward, loss, backward, step, reading
/// the loss), and the extra columns scale it to a full epoch of 938 batches. Peak working set is sampled while each
/// side runs (both share the process, so each figure includes what the other side keeps allocated).
/// </summary>
public sealed class TrainingEpochCase(string name, bool lenet) : BenchCase
{
    /// <summary>Batches per timed run.</summary>
    public const int Batches = 100;

    private const int BatchSize = 64, EpochBatches = 938;

    private Tensor? _x, _y;
    private Module<Tensor, Tensor>? _model;
    private Sgd? _opt;
    private readonly CrossEntropyLoss _loss = new();
    private torch.Tensor? _tx, _ty;
    private torch.nn.Module<torch.Tensor, torch.Tensor>? _tmodel;
    private torch.optim.Optimizer? _topt;
    private int[] _order = [];
    private int _nextFovea, _nextAnchor;

    /// <inheritdoc/>
    public override string Name => name;

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_epoch_s", "anchor_epoch_s", "fovea_peak_ws_mb", "anchor_peak_ws_mb"];

    /// <summary>LeNet-5 and the MLP.</summary>
    public static IEnumerable<BenchCase> All()
    {
        yield return new TrainingEpochCase("lenet5-epoch", lenet: true);
        yield return new TrainingEpochCase("mlp-784-256-128-10-epoch", lenet: false);
        yield return new ResNet18TrainingStepCase();
    }

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_x is null)
        {
            string? dir = FashionMnist.Locate(null);
            if (dir is not null)
            {
                var data = FashionMnist.Load(dir);
                (_x, _y) = (data.TrainImages, data.TrainLabels);
            }
            else
            {
                Console.Error.WriteLine("# Fashion-MNIST not found: training cases use random images");
                var g = new Generator(5);
                (_x, _y) = (Tensor.Rand([60000, 1, 28, 28], g), Tensor.RandInt([60000], 0, 10, g));
            }
            _order = new Generator(1).Permutation(_x.Size(0));
            _tx = torch.tensor(_x.Contiguous().ToArray<float>(), [_x.Size(0), 1, 28, 28]);
            _ty = torch.tensor(_y.Contiguous().ToArray<int>().Select(v => (long)v).ToArray(), [_y.Size(0)]);
        }
        // Fresh models per thread count, so both sides start from the same kind of state.
        _model = lenet ? new LeNet5() : new Mlp([784, 256, 128, 10]);
        _opt = new Sgd(_model.Parameters(), 0.01, momentum: 0.9);
        _tmodel?.Dispose();
        _tmodel = lenet
            ? torch.nn.Sequential(
                torch.nn.Conv2d(1, 6, 5, padding: 2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                torch.nn.Flatten(), torch.nn.Linear(400, 120), torch.nn.ReLU(), torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10))
            : torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10));
        _topt = torch.optim.SGD(_tmodel.parameters(), 0.01, momentum: 0.9);
        MemorySampler.Start();
    }

    private int[] NextBatch(ref int next)
    {
        if ((next + 1) * BatchSize > _order.Length) next = 0;
        var idx = _order.AsSpan(next * BatchSize, BatchSize).ToArray();
        next++;
        return idx;
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        using var _ = MemorySampler.Side(0);
        for (int b = 0; b < Batches; b++)
        {
            var idx = Tensor.FromArray(NextBatch(ref _nextFovea), BatchSize);
            var x = _x!.IndexSelect(0, idx);
            var y = _y!.IndexSelect(0, idx);
            _opt!.ZeroGrad();
            var loss = _loss.Forward(_model!.Forward(x), y);
            loss.Backward();
            _opt.Step();
            loss.ToScalar();
        }
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var _ = MemorySampler.Side(1);
        for (int b = 0; b < Batches; b++)
        {
            using var scope = torch.NewDisposeScope();
            var idx = torch.tensor(NextBatch(ref _nextAnchor).Select(v => (long)v).ToArray(), [BatchSize]);
            var x = _tx!.index_select(0, idx);
            var y = _ty!.index_select(0, idx);
            _topt!.zero_grad();
            var loss = torch.nn.functional.cross_entropy(_tmodel!.forward(x), y);
            loss.backward();
            _topt.step();
            loss.item<float>();
        }
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double scale = (double)EpochBatches / Batches / 1000;
        return [Harness.F(foveaMs * scale, "0.00"), Harness.F(anchorMs * scale, "0.00"),
            Harness.F(MemorySampler.PeakMb(0), "0"), Harness.F(MemorySampler.PeakMb(1), "0")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _tx?.Dispose();
        _ty?.Dispose();
        _tmodel?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// One ResNet-18 training step (torchvision's layout, 1000 classes) on a batch of 32 images at 3x112x112: zero the
/// gradients, forward, cross entropy, backward, SGD with momentum 0.9 (lr 0.01), reading the loss; Fovea's zoo model
/// against the same network built from TorchSharp's layers. Both start from their own default initialisation and
/// train on one fixed random batch. GFLOP/s counts a step as three forwards (0.4535 G multiply-adds per 112x112
/// image: the convolutions and the classifier), 2 flops per multiply-add. Peak working set is each side's own: after the
/// timed runs, the bench starts itself twice more (<c>--memory-probe fovea|anchor</c>), each child builds only its side,
/// runs <see cref="ProbeSteps"/> steps and reports its process's high-water mark. Sampled in this shared process, each
/// side's figure would include what the other side keeps (TorchSharp's allocator caches, Fovea's managed heap).
/// </summary>
public sealed class ResNet18TrainingStepCase : BenchCase
{
    private const int BatchSize = 32, Size = 112, Classes = 1000;

    /// <summary>Multiply-adds of one ResNet-18 forward at 112x112 (a quarter of the 224x224 figure, plus the classifier).</summary>
    private const double MultiplyAdds = 0.4535e9;

    private Module<Tensor, Tensor>? _model;
    private Sgd? _opt;
    private readonly CrossEntropyLoss _loss = new();
    private Tensor? _x, _y;
    private torch.nn.Module<torch.Tensor, torch.Tensor>? _tmodel;
    private torch.optim.Optimizer? _topt;
    private torch.Tensor? _tx, _ty;

    /// <summary>Steps each memory probe runs (the first allocate what later steps reuse).</summary>
    public const int ProbeSteps = 6;

    /// <inheritdoc/>
    public override string Name => "resnet18_train_step_112_b32";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["fovea_gflops", "anchor_gflops", "fovea_peak_ws_mb", "anchor_peak_ws_mb"];

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        SetupFovea();
        SetupAnchor();
    }

    private void SetupFovea()
    {
        var g = new Generator(3);
        _x ??= Tensor.Uniform([BatchSize, 3, Size, Size], -1, 1, g);
        _y ??= Tensor.RandInt([BatchSize], 0, Classes, g);
        _model = ModelZoo.Create("resnet18", 3, Classes, Size, new Generator(0));
        _opt = new Sgd(_model.Parameters(), 0.01, momentum: 0.9);
    }

    private void SetupAnchor()
    {
        var g = new Generator(3);
        var x = _x ?? Tensor.Uniform([BatchSize, 3, Size, Size], -1, 1, g);
        var y = _y ?? Tensor.RandInt([BatchSize], 0, Classes, g);
        _tmodel?.Dispose();
        _tmodel = new TorchResNet18(Classes);
        _topt = torch.optim.SGD(_tmodel.parameters(), 0.01, momentum: 0.9);
        _tx ??= torch.tensor(x.ToArray<float>(), [BatchSize, 3, Size, Size]);
        _ty ??= torch.tensor(y.ToArray<int>().Select(v => (long)v).ToArray(), [BatchSize]);
    }

    /// <summary>
    /// Each step zeroes the gradients in place and the backward adds into them (<c>ZeroGrad(setToNone: false)</c>,
    /// PyTorch's <c>zero_grad(set_to_none=False)</c>): the 47 MB of weight gradients are then written into the same
    /// buffers every step, where new ones would be fresh memory that the kernel must map, a page fault per 4 KiB
    /// (the TorchSharp side keeps its default, <c>zero_grad()</c>). Measured on the 2-core AMD
    /// EPYC (Zen 5) virtual machine, blocks of steps of each kind alternating in one process (medians of 20–32
    /// steps): 530 → 499 ms on one thread, 337 → 319 on two. The small networks keep the default: their gradients come
    /// from the young generation cheaply, and zeroing and adding cost more there (the MLP's step 0.99 → 1.11 ms).
    /// </summary>
    public override void RunFovea()
    {
        _opt!.ZeroGrad(setToNone: false);
        var loss = _loss.Forward(_model!.Forward(_x!), _y!);
        loss.Backward();
        _opt.Step();
        loss.ToScalar();
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        using var scope = torch.NewDisposeScope();
        _topt!.zero_grad();
        var loss = torch.nn.functional.cross_entropy(_tmodel!.forward(_tx!), _ty!);
        loss.backward();
        _topt.step();
        loss.item<float>();
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double flops = 2.0 * 3 * MultiplyAdds * BatchSize;
        return [Harness.F(flops / (foveaMs * 1e6), "0.0"), Harness.F(flops / (anchorMs * 1e6), "0.0"),
            ProbeInChild("fovea", threads), ProbeInChild("anchor", threads)];
    }

    /// <summary>Runs <c>--memory-probe</c> for one side in a child process; its peak working set in MB, or "n/a".</summary>
    private static string ProbeInChild(string side, int threads) =>
        Harness.RunChild("peak_ws_mb", "--memory-probe", side, "--threads", threads.ToString(System.Globalization.CultureInfo.InvariantCulture)) ?? "n/a";

    /// <summary>
    /// The child's side of <see cref="ProbeInChild"/>: builds one side only, runs <see cref="ProbeSteps"/> training steps
    /// and prints the process's peak working set (the kernel's high-water mark on Linux) in MB.
    /// </summary>
    public static void MemoryProbe(string side, int threads)
    {
        using var probe = new ResNet18TrainingStepCase();
        Fovea.Threading.MaxDegreeOfParallelism = threads;
        bool fovea = side switch
        {
            "fovea" => true,
            "anchor" => false,
            _ => throw new ArgumentException($"--memory-probe takes fovea or anchor, not {side}"),
        };
        if (fovea) probe.SetupFovea();
        else
        {
            TorchAnchor.SetThreads(threads);
            probe.SetupAnchor();
        }
        for (int i = 0; i < ProbeSteps; i++)
            if (fovea) probe.RunFovea();
            else probe.RunAnchor();
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        self.Refresh();
        Console.WriteLine($"peak_ws_mb {Harness.F(self.PeakWorkingSet64 / (1024.0 * 1024.0), "0")}");
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _tx?.Dispose();
        _ty?.Dispose();
        _tmodel?.Dispose();
        base.Dispose();
    }

    /// <summary>torchvision's ResNet-18 from TorchSharp's layers: stem, four stages of two basic blocks, pooled classifier.</summary>
    private sealed class TorchResNet18 : torch.nn.Module<torch.Tensor, torch.Tensor>
    {
        private readonly torch.nn.Module<torch.Tensor, torch.Tensor> _conv1, _bn1, _maxpool, _layers, _fc;

        public TorchResNet18(int classes) : base("ResNet18")
        {
            _conv1 = torch.nn.Conv2d(3, 64, 7, stride: 2, padding: 3, bias: false);
            _bn1 = torch.nn.BatchNorm2d(64);
            _maxpool = torch.nn.MaxPool2d(3, 2, 1);
            var blocks = new List<torch.nn.Module<torch.Tensor, torch.Tensor>>();
            int inPlanes = 64;
            foreach (var (planes, stride) in new[] { (64, 1), (128, 2), (256, 2), (512, 2) })
            {
                blocks.Add(new TorchBasicBlock(inPlanes, planes, stride));
                blocks.Add(new TorchBasicBlock(planes, planes, 1));
                inPlanes = planes;
            }
            _layers = torch.nn.Sequential(blocks);
            _fc = torch.nn.Linear(512, classes);
            RegisterComponents();
        }

        public override torch.Tensor forward(torch.Tensor x)
        {
            var y = _maxpool.forward(torch.nn.functional.relu(_bn1.forward(_conv1.forward(x))));
            y = _layers.forward(y).mean([2, 3]);
            return _fc.forward(y);
        }
    }

    /// <summary>relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), the shortcut a 1x1 convolution + batch norm when the shape changes.</summary>
    private sealed class TorchBasicBlock : torch.nn.Module<torch.Tensor, torch.Tensor>
    {
        private readonly torch.nn.Module<torch.Tensor, torch.Tensor> _conv1, _bn1, _conv2, _bn2;
        private readonly torch.nn.Module<torch.Tensor, torch.Tensor>? _downsample;

        public TorchBasicBlock(int inPlanes, int planes, int stride) : base("BasicBlock")
        {
            _conv1 = torch.nn.Conv2d(inPlanes, planes, 3, stride: stride, padding: 1, bias: false);
            _bn1 = torch.nn.BatchNorm2d(planes);
            _conv2 = torch.nn.Conv2d(planes, planes, 3, padding: 1, bias: false);
            _bn2 = torch.nn.BatchNorm2d(planes);
            if (stride != 1 || inPlanes != planes)
                _downsample = torch.nn.Sequential(torch.nn.Conv2d(inPlanes, planes, 1, stride: stride, bias: false), torch.nn.BatchNorm2d(planes));
            RegisterComponents();
        }

        public override torch.Tensor forward(torch.Tensor x)
        {
            var y = torch.nn.functional.relu(_bn1.forward(_conv1.forward(x)));
            y = _bn2.forward(_conv2.forward(y));
            return torch.nn.functional.relu(y + (_downsample is null ? x : _downsample.forward(x)));
        }
    }
}

/// <summary>
/// The peak working set while each side runs. On Linux it is the kernel's own high-water mark of the resident set:
/// reset (<c>/proc/self/clear_refs</c>, "5") when a side starts a run and read (<c>VmHWM</c> in <c>/proc/self/status</c>)
/// when it ends, so it misses no short peak and runs nothing meanwhile. Elsewhere a thread samples the working set every
/// millisecond while a side runs. The sampler used to run on Linux too, from the first training case to the end of the
/// bench, waking every millisecond: on a 2-core machine each wake-up took a core from a parallel region's helper
/// thread, in every case measured after it.
/// </summary>
internal static class MemorySampler
{
    private static readonly long[] Peak = new long[2];
    private static volatile int _side = -1;
    private static Thread? _thread;
    private static readonly ManualResetEventSlim Running = new(false);
    private static readonly bool HighWaterMark = ResetHighWaterMark() && ReadHighWaterMark() > 0;

    public static void Start()
    {
        Peak[0] = Peak[1] = 0;
        if (HighWaterMark || _thread is not null) return;
        _thread = new Thread(() =>
        {
            while (true)
            {
                Running.Wait();
                int s = _side;
                if (s >= 0) Peak[s] = Math.Max(Peak[s], Environment.WorkingSet);
                Thread.Sleep(1);
            }
        })
        { IsBackground = true, Name = "memory sampler" };
        _thread.Start();
    }

    public static IDisposable Side(int side)
    {
        _side = side;
        Peak[side] = Math.Max(Peak[side], Environment.WorkingSet);
        if (HighWaterMark) ResetHighWaterMark();
        else Running.Set();
        return new End(side);
    }

    public static double PeakMb(int side) => Peak[side] / (1024.0 * 1024.0);

    /// <summary>Sets the kernel's high-water mark of the resident set to the resident set now; false where that cannot be done.</summary>
    private static bool ResetHighWaterMark()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The high-water mark of the resident set in bytes (<c>VmHWM</c>), or 0 where it cannot be read.</summary>
    private static long ReadHighWaterMark()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
                if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
        }
        catch (FormatException)
        {
        }
        return 0;
    }

    private sealed class End(int side) : IDisposable
    {
        public void Dispose()
        {
            _side = -1;
            if (HighWaterMark) Peak[side] = Math.Max(Peak[side], ReadHighWaterMark());
            else Running.Reset();
        }
    }
}
