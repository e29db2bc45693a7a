using System.Text.Json;
using Fovea.Optim;

namespace Fovea.Tests.Optim;

/// <summary>
/// Reads the fixtures written by tests/fixtures/gen_optim_fixtures.py (PyTorch 1.13, float64) and replays the
/// same training problem in Fovea: loss = mean((x Wᵀ + b − y)²), gradients from Fovea's autograd.
/// </summary>
internal static class OptimFixtures
{
    private static readonly Lazy<JsonElement> Optimizers = new(() => Load("optimizers.json"));
    private static readonly Lazy<JsonElement> Schedulers = new(() => Load("schedulers.json"));

    private static JsonElement Load(string file)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "optim", file);
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.Clone();
    }

    public static JsonElement OptimizerRoot => Optimizers.Value;

    public static IEnumerable<JsonElement> OptimizerCases => Optimizers.Value.GetProperty("cases").EnumerateArray();

    public static JsonElement OptimizerCase(string name) => OptimizerCases.First(c => c.GetProperty("name").GetString() == name);

    public static IEnumerable<JsonElement> SchedulerCases => Schedulers.Value.GetProperty("cases").EnumerateArray();

    public static JsonElement SchedulerCase(string name) => SchedulerCases.First(c => c.GetProperty("name").GetString() == name);

    public static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(e => e.GetDouble()).ToArray();

    public static Tensor TensorOf(JsonElement spec, DType dtype = DType.Float64)
    {
        var shape = spec.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        return Tensor.FromArray(Doubles(spec.GetProperty("data")), shape).To(dtype);
    }

    /// <summary>The problem's data and fresh copies of the initial parameters (leaves that require grad).</summary>
    public sealed class Problem
    {
        public readonly Tensor X, Y, W, B;

        public Problem(DType dtype = DType.Float64)
        {
            var root = OptimizerRoot;
            X = TensorOf(root.GetProperty("x"), dtype);
            Y = TensorOf(root.GetProperty("y"), dtype);
            W = TensorOf(root.GetProperty("w0"), dtype).Clone().RequiresGrad_();
            B = TensorOf(root.GetProperty("b0"), dtype).Clone().RequiresGrad_();
        }

        public Tensor Loss() => (X.MatMul(W.T) + B - Y).Square().Mean();

        /// <summary>One training step: zero grads, backward, step.</summary>
        public void Step(Optimizer opt)
        {
            opt.ZeroGrad();
            Loss().Backward();
            opt.Step();
        }

        /// <summary>W then b, flattened as the fixture stores them.</summary>
        public double[] Flat() => [.. W.To(DType.Float64).ToArray<double>(), .. B.To(DType.Float64).ToArray<double>()];
    }

    private static double Opt(JsonElement options, string name, double fallback) =>
        options.TryGetProperty(name, out var v) ? v.GetDouble() : fallback;

    private static bool Flag(JsonElement options, string name) =>
        options.TryGetProperty(name, out var v) && v.GetBoolean();

    /// <summary>Builds the optimizer a fixture case describes over <paramref name="p"/> (one group, or W and b in two).</summary>
    public static Optimizer Build(JsonElement c, Problem p)
    {
        string kind = c.GetProperty("kind").GetString()!;
        var o = c.GetProperty("options");
        var second = c.GetProperty("groups");
        bool twoGroups = second.ValueKind == JsonValueKind.Object;
        Tensor[] first = twoGroups ? [p.W] : [p.W, p.B];
        switch (kind)
        {
            case "sgd":
            {
                var opt = new Sgd(first, Opt(o, "lr", 0), Opt(o, "momentum", 0), Opt(o, "dampening", 0), Flag(o, "nesterov"),
                    Opt(o, "weight_decay", 0), Flag(o, "maximize"));
                if (twoGroups) opt.AddParamGroup([p.B], lr: Opt(second, "lr", 0), weightDecay: Opt(second, "weight_decay", 0));
                return opt;
            }
            case "adam":
            case "adamw":
            {
                var betas = (Opt(o, "beta1", 0.9), Opt(o, "beta2", 0.999));
                AdamBase opt = kind == "adam"
                    ? new Adam(first, Opt(o, "lr", 1e-3), betas, Opt(o, "eps", 1e-8), Opt(o, "weight_decay", 0), Flag(o, "amsgrad"), Flag(o, "maximize"))
                    : new AdamW(first, Opt(o, "lr", 1e-3), betas, Opt(o, "eps", 1e-8), Opt(o, "weight_decay", 1e-2), Flag(o, "amsgrad"), Flag(o, "maximize"));
                if (twoGroups) opt.AddParamGroup([p.B], lr: Opt(second, "lr", 0), weightDecay: Opt(second, "weight_decay", 0));
                return opt;
            }
            case "rmsprop":
            {
                var opt = new RMSprop(first, Opt(o, "lr", 1e-2), Opt(o, "alpha", 0.99), Opt(o, "eps", 1e-8), Opt(o, "weight_decay", 0),
                    Opt(o, "momentum", 0), Flag(o, "centered"), Flag(o, "maximize"));
                if (twoGroups) opt.AddParamGroup([p.B], lr: Opt(second, "lr", 0), weightDecay: Opt(second, "weight_decay", 0));
                return opt;
            }
            default:
                throw new InvalidOperationException($"unknown optimizer kind '{kind}' in the fixture");
        }
    }
}
