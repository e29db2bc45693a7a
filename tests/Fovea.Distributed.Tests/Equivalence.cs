using Fovea.Data;
using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Distributed.Tests;

/// <summary>
/// The data-parallel equivalence experiment, shared by the unit test (ranks = threads) and the check that CI runs
/// under mpirun (ranks = processes): N ranks with batch 64 / N each, their gradients averaged, must take the same steps
/// as one process with batch 64. The model is a small MLP (no batch norm, whose statistics are per rank by design) on
/// a fixed synthetic classification problem; SGD with momentum for <see cref="Steps"/> steps.
/// </summary>
public static class Equivalence
{
    public const int Samples = 2048, Features = 16, Hidden = 32, Classes = 4, GlobalBatch = 64, Epochs = 10;
    public const int Steps = Samples / GlobalBatch * Epochs; // 320

    /// <summary>
    /// The stated tolerance: the largest parameter difference over the largest parameter magnitude. The two runs differ
    /// only in float32 summation order (each rank's mean over 32 and then the mean of the two, against one mean over
    /// 64), a few units of 2^-24 per step that SGD carries forward; 320 steps measure 2e-7 (threads and Open MPI alike),
    /// and 1e-5 leaves a factor of 50 while still catching any real difference (a wrong shard, an unaveraged bucket or a
    /// missed step give 1e-2 or more: see the test that trains without averaging).
    /// </summary>
    public const double Tolerance = 1e-5;

    private const ulong DataSeed = 7, ShuffleSeed = 5;

    /// <summary>Inputs ~ N(0, 1) and labels from a fixed random linear teacher (argmax of x·W).</summary>
    public static (Tensor X, Tensor Y) Data()
    {
        var x = Tensor.Randn([Samples, Features], new Generator(DataSeed));
        var teacher = Tensor.Randn([Features, Classes], new Generator(DataSeed + 1));
        var y = x.MatMul(teacher).Argmax(1);
        return (x, y);
    }

    /// <summary>Trains and returns the final parameters (flattened, registration order) and the last epoch's mean loss.</summary>
    public static (float[] Parameters, double FirstLoss, double LastLoss) Train(IProcessGroup? group, double bucketMegabytes = 0.002)
    {
        var (x, y) = Data();
        int rank = group?.Rank ?? 0, size = group?.Size ?? 1;
        // Ranks other than 0 start from other weights: the broadcast at construction must replace them.
        ulong seed = rank == 0 ? 1UL : 100UL + (ulong)rank;
        var model = new Sequential(new Linear(Features, Hidden, generator: new Generator(seed)), new Tanh(),
            new Linear(Hidden, Classes, generator: new Generator(seed + 50)));
        using var ddp = group is null ? null : new DistributedDataParallel(model, group, bucketMegabytes);
        var loader = new DataLoader<(Tensor Input, Tensor Target), (Tensor Input, Tensor Target)>(new TensorDataset(x, y), GlobalBatch / size,
            shuffle: true, seed: ShuffleSeed, dropLast: true, prefetch: 0)
        {
            Sampler = group is null ? null : new DistributedSampler(Samples, group, shuffle: true, seed: ShuffleSeed),
        };
        var optimizer = new Sgd(model.Parameters(), lr: 0.05, momentum: 0.9);
        var lossFn = new CrossEntropyLoss();
        double first = double.NaN, last = 0;
        int steps = 0;
        for (int epoch = 0; epoch < Epochs; epoch++)
        {
            double sum = 0;
            int batches = 0;
            foreach (var (input, target) in loader)
            {
                optimizer.ZeroGrad();
                var loss = lossFn.Forward(model.Forward(input), target);
                loss.Backward();
                ddp?.SynchronizeGradients();
                optimizer.Step();
                sum += loss.ToScalar();
                batches++;
                steps++;
            }
            if (epoch == 0) first = sum / batches;
            last = sum / batches;
        }
        if (steps != Steps) throw new InvalidOperationException($"expected {Steps} steps, ran {steps}");
        var flat = model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();
        return (flat, first, last);
    }

    /// <summary>max |a − b| / max |b|.</summary>
    public static double RelativeDifference(float[] a, float[] b)
    {
        double diff = 0, scale = 0;
        for (int i = 0; i < a.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
            scale = Math.Max(scale, Math.Abs(b[i]));
        }
        return diff / scale;
    }
}
