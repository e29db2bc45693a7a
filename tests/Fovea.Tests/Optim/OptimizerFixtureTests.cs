using Fovea.Optim;

namespace Fovea.Tests.Optim;

/// <summary>Every optimizer variant replays PyTorch 1.13's float64 trajectory to 1e-10.</summary>
public class OptimizerFixtureTests
{
    private static readonly string[] Names =
    [
        "sgd_plain", "sgd_momentum", "sgd_dampening_wd", "sgd_nesterov_wd", "sgd_maximize",
        "adam", "adam_wd_betas", "adam_amsgrad", "adam_maximize", "adamw", "adamw_amsgrad_wd",
        "rmsprop", "rmsprop_centered_momentum", "rmsprop_momentum",
        "sgd_groups", "adam_groups", "rmsprop_groups",
    ];

    public static TheoryData<string> Cases => new(Names);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Trajectory_MatchesPyTorch(string name)
    {
        var c = OptimFixtures.OptimizerCase(name);
        var p = new OptimFixtures.Problem();
        var opt = OptimFixtures.Build(c, p);
        int step = 0;
        foreach (var expected in c.GetProperty("trajectory").EnumerateArray())
        {
            p.Step(opt);
            step++;
            var want = OptimFixtures.Doubles(expected);
            var got = p.Flat();
            Assert.Equal(want.Length, got.Length);
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-10,
                    $"{name}: step {step}, element {i}: Fovea {got[i]:R}, PyTorch {want[i]:R} (diff {Math.Abs(got[i] - want[i]):E2})");
        }
        Assert.Equal(10, step);
    }

    [Fact]
    public void EveryFixtureCase_IsReplayed()
    {
        var listed = Names.ToHashSet();
        foreach (var c in OptimFixtures.OptimizerCases)
            Assert.Contains(c.GetProperty("name").GetString()!, listed);
    }

    [Theory]
    [InlineData("sgd_nesterov_wd")]
    [InlineData("adam_amsgrad")]
    [InlineData("adamw_amsgrad_wd")]
    [InlineData("rmsprop_centered_momentum")]
    public void Float32_FollowsTheFloat64Trajectory(string name)
    {
        // The float32 path runs the same kernels at single precision: it must track PyTorch's float64 run closely.
        var c = OptimFixtures.OptimizerCase(name);
        var p = new OptimFixtures.Problem(DType.Float32);
        var opt = OptimFixtures.Build(c, p);
        foreach (var expected in c.GetProperty("trajectory").EnumerateArray())
        {
            p.Step(opt);
            var want = OptimFixtures.Doubles(expected);
            var got = p.Flat();
            for (int i = 0; i < want.Length; i++)
                Assert.True(Math.Abs(got[i] - want[i]) <= 1e-4, $"{name}: element {i}: float32 {got[i]}, PyTorch float64 {want[i]}");
        }
    }
}
