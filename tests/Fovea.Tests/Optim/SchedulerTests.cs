using System.Text.Json;
using Fovea.Optim;

namespace Fovea.Tests.Optim;

/// <summary>Schedulers reproduce PyTorch's learning-rate (and momentum) sequences.</summary>
public class SchedulerTests
{
    private static Tensor P() => Tensor.Zeros([1], DType.Float64).RequiresGrad_();

    // Two groups with the fixture's base learning rates, each with its own parameter.
    private static Optimizer Optimizer(string kind, double[] lrs)
    {
        if (kind == "sgd")
        {
            var sgd = new Sgd([P()], lrs[0], momentum: 0.9);
            for (int i = 1; i < lrs.Length; i++) sgd.AddParamGroup([P()], lr: lrs[i]);
            return sgd;
        }
        var adam = new Adam([P()], lrs[0]);
        for (int i = 1; i < lrs.Length; i++) adam.AddParamGroup([P()], lr: lrs[i]);
        return adam;
    }

    private static LRScheduler Build(JsonElement c, Optimizer opt)
    {
        var o = c.GetProperty("options");
        switch (c.GetProperty("kind").GetString())
        {
            case "steplr":
                return new StepLR(opt, o.GetProperty("step_size").GetInt32(), o.GetProperty("gamma").GetDouble());
            case "cosine":
                return new CosineAnnealingLR(opt, o.GetProperty("t_max").GetInt32(), o.GetProperty("eta_min").GetDouble());
            default:
                double D(string k, double d) => o.TryGetProperty(k, out var v) ? v.GetDouble() : d;
                bool B(string k, bool d) => o.TryGetProperty(k, out var v) ? v.GetBoolean() : d;
                var strategy = o.TryGetProperty("anneal_strategy", out var s) && s.GetString() == "linear" ? AnnealStrategy.Linear : AnnealStrategy.Cos;
                return new OneCycleLR(opt, D("max_lr", 0), o.GetProperty("total_steps").GetInt32(), D("pct_start", 0.3), strategy,
                    B("cycle_momentum", true), divFactor: D("div_factor", 25), finalDivFactor: D("final_div_factor", 1e4), threePhase: B("three_phase", false));
        }
    }

    private static double Momentum(ParamGroup g) => ((IMomentumGroup)g).Momentum;

    private static readonly string[] Names =
    [
        "steplr", "cosine", "cosine_zero_min", "onecycle_cos_sgd", "onecycle_linear_sgd", "onecycle_three_phase_adam", "onecycle_cos_adam_no_momentum",
    ];

    public static TheoryData<string> Cases => new(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void ChainedSteps_MatchPyTorch(string name)
    {
        var c = OptimFixtures.SchedulerCase(name);
        var opt = Optimizer(c.TryGetProperty("optimizer", out var k) ? k.GetString()! : "sgd", OptimFixtures.Doubles(c.GetProperty("base_lrs")));
        var sched = Build(c, opt);
        var lrs = c.GetProperty("lrs").EnumerateArray().Select(OptimFixtures.Doubles).ToArray();
        var momenta = c.TryGetProperty("momenta", out var m) ? m.EnumerateArray().Select(OptimFixtures.Doubles).ToArray() : [];
        for (int t = 0; t < lrs.Length; t++)
        {
            if (t > 0)
            {
                opt.Step();
                sched.Step();
            }
            Assert.Equal(t, sched.LastEpoch);
            for (int g = 0; g < lrs[t].Length; g++)
            {
                Assert.True(Math.Abs(sched.LastLr[g] - lrs[t][g]) <= 1e-10, $"{name}: epoch {t}, group {g}: Fovea {sched.LastLr[g]:R}, PyTorch {lrs[t][g]:R}");
                Assert.Equal(sched.LastLr[g], opt.ParamGroups[g].Lr);
                if (momenta.Length > 0)
                    Assert.True(Math.Abs(Momentum(opt.ParamGroups[g]) - momenta[t][g]) <= 1e-10, $"{name}: epoch {t}, group {g} momentum");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ClosedForm_MatchesPyTorchSequence(string name)
    {
        // Step(epoch) jumps with the closed form; visiting the epochs out of order must give PyTorch's values.
        var c = OptimFixtures.SchedulerCase(name);
        var opt = Optimizer(c.TryGetProperty("optimizer", out var k) ? k.GetString()! : "sgd", OptimFixtures.Doubles(c.GetProperty("base_lrs")));
        var sched = Build(c, opt);
        var lrs = c.GetProperty("lrs").EnumerateArray().Select(OptimFixtures.Doubles).ToArray();
        var order = Enumerable.Range(0, lrs.Length).Reverse().Concat(Enumerable.Range(0, lrs.Length));
        foreach (int t in order)
        {
            sched.Step(t);
            for (int g = 0; g < lrs[t].Length; g++)
                Assert.True(Math.Abs(sched.LastLr[g] - lrs[t][g]) <= 1e-10, $"{name}: closed form at epoch {t}, group {g}: {sched.LastLr[g]:R} vs {lrs[t][g]:R}");
        }
    }

    [Fact]
    public void EveryFixtureCase_IsReplayed()
    {
        var listed = Names.ToHashSet();
        foreach (var c in OptimFixtures.SchedulerCases) Assert.Contains(c.GetProperty("name").GetString()!, listed);
    }

    [Fact]
    public void OneCycle_SteppingPastTotalSteps_IsAClearError()
    {
        var opt = new Sgd([P()], 0.1, momentum: 0.9);
        var sched = new OneCycleLR(opt, 1.0, totalSteps: 3);
        sched.Step();
        sched.Step();
        sched.Step();
        var e = Assert.Throws<InvalidOperationException>(() => sched.Step());
        Assert.Contains("tried to step 5 times", e.Message);
        Assert.Contains("3 total steps", e.Message);
    }

    [Fact]
    public void BadArguments_NameTheSchedulerAndValue()
    {
        var opt = new Sgd([P()], 0.1);
        Assert.Contains("StepLR: stepSize must be > 0, got 0", Assert.Throws<ArgumentOutOfRangeException>(() => new StepLR(opt, 0)).Message);
        Assert.Contains("CosineAnnealingLR: tMax must be > 0", Assert.Throws<ArgumentOutOfRangeException>(() => new CosineAnnealingLR(opt, -1)).Message);
        Assert.Contains("pctStart must be in [0, 1], got 1.5", Assert.Throws<ArgumentOutOfRangeException>(() => new OneCycleLR(opt, 0.1, 10, pctStart: 1.5)).Message);
        Assert.Contains("expected 1 or 1 values for maxLr", Assert.Throws<ArgumentException>(() => new OneCycleLR(opt, [0.1, 0.2], 10)).Message);
        var resume = new Sgd([P()], 0.1);
        Assert.Contains("has no InitialLr", Assert.Throws<ArgumentException>(() => new StepLR(resume, 2, lastEpoch: 4)).Message);
    }

    [Fact]
    public void StateDict_RoundTrip_ResumesTheSchedule()
    {
        // 7 steps, save both states, load into fresh objects, 8 more == 15 straight.
        static (Sgd, CosineAnnealingLR) Make() { var o = new Sgd([P()], 0.1, momentum: 0.9); return (o, new CosineAnnealingLR(o, 5, 0.001)); }
        var (straightOpt, straight) = Make();
        for (int i = 0; i < 15; i++) { straightOpt.Step(); straight.Step(); }

        var (opt, sched) = Make();
        for (int i = 0; i < 7; i++) { opt.Step(); sched.Step(); }
        var savedOpt = opt.StateDict();
        var savedSched = sched.StateDict();
        var (opt2, sched2) = Make();
        sched2.LoadStateDict(savedSched);
        opt2.LoadStateDict(savedOpt);
        Assert.Equal(sched.LastLr, sched2.LastLr);
        Assert.Equal(opt.ParamGroups[0].Lr, opt2.ParamGroups[0].Lr);
        for (int i = 0; i < 8; i++) { opt2.Step(); sched2.Step(); }
        Assert.Equal(straight.LastEpoch, sched2.LastEpoch);
        Assert.Equal(straight.LastLr[0], sched2.LastLr[0]);
    }

    [Fact]
    public void OneCycle_StateDict_RestoresMomentum()
    {
        var opt = new Adam([P()], 0.1);
        var sched = new OneCycleLR(opt, 0.5, 20, threePhase: true);
        for (int i = 0; i < 9; i++) sched.Step();
        var saved = sched.StateDict();
        var opt2 = new Adam([P()], 0.1);
        var sched2 = new OneCycleLR(opt2, 0.3, 50);
        sched2.LoadStateDict(saved);
        Assert.Equal(opt.ParamGroups[0].Beta1, opt2.ParamGroups[0].Beta1);
        sched.Step();
        sched2.Step();
        Assert.Equal(sched.LastLr[0], sched2.LastLr[0]);
        Assert.Equal(opt.ParamGroups[0].Beta1, opt2.ParamGroups[0].Beta1);
    }
}
