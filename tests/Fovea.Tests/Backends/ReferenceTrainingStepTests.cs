using System.Reflection;
using System.Runtime.ExceptionServices;
using Fovea.Backends;
using Fovea.Backends.Cpu;
using Fovea.NN;
using Fovea.Optim;
using static Fovea.Tests.TestUtil;

namespace Fovea.Tests.Backends;

/// <summary>
/// An <see cref="IBackend"/> that forwards every call to <see cref="Inner"/> and records the primitive's name.
/// Built by <see cref="DispatchProxy"/>, so it covers every primitive of the contract, including ones added later.
/// </summary>
public class RecordingBackend : DispatchProxy
{
    /// <summary>The backend that does the work.</summary>
    public IBackend Inner { get; private set; } = null!;

    /// <summary>The names of the primitives called, in order (property getters included).</summary>
    public List<string> Calls { get; } = [];

    /// <summary>A recorder around <paramref name="inner"/>.</summary>
    public static (IBackend Backend, RecordingBackend Recorder) Around(IBackend inner)
    {
        var backend = Create<IBackend, RecordingBackend>();
        var recorder = (RecordingBackend)(object)backend;
        recorder.Inner = inner;
        return (backend, recorder);
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        Calls.Add(targetMethod!.Name);
        try
        {
            return targetMethod.Invoke(Inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}

/// <summary>
/// A whole training step of a small CNN (Conv2d, BatchNorm2d, ReLU, MaxPool2d, Dropout, Linear, cross-entropy;
/// initialisation, forward, backward, an SGD-momentum step and an Adam step) runs entirely on the backend chosen
/// by <see cref="Backend.Use"/>: under the reference backend every primitive goes through a recorder, the CPU
/// backend is forbidden on the thread (any call to it throws), and the results match the CPU run.
/// </summary>
public class ReferenceTrainingStepTests
{
    private sealed record StepResult(double[] InitialParams, double Loss1, double Loss2, double[] AfterSgd, double[] AfterAdam, double[] Logits);

    private static double[] Flat(Fovea.NN.Module model) => [.. model.Parameters().SelectMany(Values)];

    private static StepResult TrainingStep(DType dtype)
    {
        // No conv bias: batch norm cancels it, so its gradient is rounding noise that Adam would scale to a full step.
        var model = new Sequential(
            new Conv2d(2, 4, 3, padding: 1, bias: false, generator: new Generator(1), dtype: dtype),
            new BatchNorm2d(4, dtype: dtype),
            new ReLU(),
            new MaxPool2d(2),
            new Dropout(0.25, new Generator(3)),
            new Flatten(),
            new Linear(4 * 4 * 4, 3, generator: new Generator(2), dtype: dtype));
        var initial = Flat(model);
        var x = Tensor.Randn([6, 2, 8, 8], new Generator(7), dtype);
        var labels = Tensor.RandInt([6], 0, 3, new Generator(8));
        var loss = new CrossEntropyLoss();

        var sgd = new Sgd(model.Parameters(), lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3);
        var l1 = loss.Forward(model.Forward(x), labels);
        l1.Backward();
        sgd.Step();
        var afterSgd = Flat(model);

        sgd.ZeroGrad();
        var adam = new Adam(model.Parameters(), lr: 1e-2, amsgrad: true);
        var l2 = loss.Forward(model.Forward(x), labels);
        l2.Backward();
        adam.Step();
        var afterAdam = Flat(model);

        // Evaluation mode: the running statistics the training steps left behind, no dropout.
        model.Eval();
        Tensor logits;
        using (GradMode.Disable()) logits = model.Forward(x);
        return new(initial, l1.ToScalar(), l2.ToScalar(), afterSgd, afterAdam, Values(logits));
    }

    /// <summary>The primitives this step must route through the scope's backend.</summary>
    private static readonly string[] ExpectedPrimitives =
    [
        nameof(IBackend.FillUniform), nameof(IBackend.FillNormal), nameof(IBackend.FillRandInt),
        nameof(IBackend.Conv2d), nameof(IBackend.Conv2dBackwardWeight),
        nameof(IBackend.BatchNormForward), nameof(IBackend.BatchNormBackward),
        nameof(IBackend.MaxPool2d), nameof(IBackend.MaxPool2dBackward),
        nameof(IBackend.Compare), nameof(IBackend.BatchedMatMul),
        nameof(IBackend.SgdUpdate), nameof(IBackend.AdamUpdate),
    ];

    [Theory]
    [InlineData(DType.Float64)]
    [InlineData(DType.Float32)]
    public void Training_step_runs_entirely_on_the_reference_backend_and_matches_cpu(DType dtype)
    {
        var cpu = On(Backend.Cpu, () => TrainingStep(dtype));

        var (recording, recorder) = RecordingBackend.Around(Backend.Reference);
        StepResult reference;
        using (Backend.Use(recording))
        using (CpuBackend.Forbid())
            reference = TrainingStep(dtype);

        foreach (var primitive in ExpectedPrimitives)
            Assert.Contains(primitive, recorder.Calls);

        // The counter-based generator makes initialisation identical, bit for bit.
        Assert.Equal(cpu.InitialParams, reference.InitialParams);
        double tol = dtype == DType.Float64 ? 1e-9 : 2e-4;
        Close(cpu.Loss1, reference.Loss1, tol, "loss before the SGD step");
        Close(cpu.Loss2, reference.Loss2, tol, "loss before the Adam step");
        AllClose(cpu.AfterSgd, reference.AfterSgd, tol, "parameters after SGD");
        AllClose(cpu.AfterAdam, reference.AfterAdam, tol, "parameters after Adam");
        AllClose(cpu.Logits, reference.Logits, tol, "evaluation logits");
        Assert.NotEqual(cpu.InitialParams, cpu.AfterSgd);
    }

    private static void Close(double expected, double actual, double tol, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tol * Math.Max(1, Math.Abs(expected)), $"{what}: {actual:R} vs cpu {expected:R}");

    private static void AllClose(double[] expected, double[] actual, double tol, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Close(expected[i], actual[i], tol, $"{what}, element {i}");
    }

    [Fact]
    public void Forbidding_the_cpu_backend_makes_any_primitive_that_reaches_it_throw()
    {
        var x = Tensor.Ones([3]);
        using (CpuBackend.Forbid())
        {
            // No scope: ops fall back to the CPU backend, which refuses.
            var e = Assert.Throws<InvalidOperationException>(() => x.Exp());
            Assert.Contains("CPU backend's Unary", e.Message);
            Assert.Throws<InvalidOperationException>(() => Backend.Cpu.BatchNormForward(Tensor.Ones([2, 1]), Tensor.Ones([1]), Tensor.Zeros([1]), 1e-5));
            Assert.Throws<InvalidOperationException>(() => Tensor.Rand([4]));
            using (Backend.Use(Backend.Reference)) Assert.Equal(Math.E, x.Exp()[0], 6);
        }
        Assert.Equal(Math.E, x.Exp()[0], 6);
    }

    [Fact]
    public void Forbidding_is_per_thread_and_scoped()
    {
        var scope = CpuBackend.Forbid();
        bool otherThreadRan = false;
        var t = new Thread(() => otherThreadRan = Tensor.Ones([2]).Exp().Numel == 2);
        t.Start();
        t.Join();
        Assert.True(otherThreadRan);
        scope.Dispose();
        scope.Dispose();
        Assert.Equal(2, Tensor.Ones([2]).Exp().Numel);
    }
}
