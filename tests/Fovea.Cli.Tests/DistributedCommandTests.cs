using Fovea.Distributed;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>The commands that run under mpirun, started without it: one line on stderr, exit 2.</summary>
public sealed class DistributedCommandTests
{

    private static void AssertOneLineUsageError(string[] args, string mentions)
    {
        var (code, _, err) = Run(args);
        Assert.True(code == 2, $"fovea {string.Join(" ", args)}: exit {code}, stderr: {err}");
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.StartsWith("fovea: ", err);
        Assert.Contains(mentions, err);
    }

    [Fact]
    public void AllReduce_WithoutMpirun_SaysSoInOneLine()
    {
        // This test process is not an MPI rank (the CI step that runs under mpirun does not run the test suite).
        Assert.False(MpiProcessGroup.LaunchedByMpirun(Environment.GetEnvironmentVariable));
        AssertOneLineUsageError(["allreduce"], "not started by mpirun");
    }

    [Fact]
    public void AllReduce_BadOptions_AreUsageErrors()
    {
        AssertOneLineUsageError(["allreduce", "--max-mb", "0"], "--max-mb");
        AssertOneLineUsageError(["allreduce", "--min-mb", "8", "--max-mb", "4"], "--max-mb");
        AssertOneLineUsageError(["allreduce", "--iters", "x"], "--iters");
        AssertOneLineUsageError(["allreduce", "stray"], "stray");
    }

    [Fact]
    public void TrainDistributed_WithoutMpirun_SaysSoInOneLine()
    {
        AssertOneLineUsageError(["train", "--distributed", "--epochs", "1"], "not started by mpirun");
        AssertOneLineUsageError(["train", "--distributed", "--global-batch", "64", "--epochs", "1"], "not started by mpirun");
    }

    [Fact]
    public void TrainDistributed_OptionMistakes_AreUsageErrors()
    {
        AssertOneLineUsageError(["train", "--global-batch", "64"], "--global-batch needs --distributed");
        AssertOneLineUsageError(["train", "--distributed", "--global-batch", "0"], "--global-batch");
        AssertOneLineUsageError(["train", "--distributed", "--early-stop", "2", "--monitor", "train_loss"], "--monitor train_");
    }
}
