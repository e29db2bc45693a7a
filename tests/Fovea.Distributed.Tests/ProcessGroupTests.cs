namespace Fovea.Distributed.Tests;

public class ProcessGroupTests
{
    [Fact]
    public void AllReduce_SumsAndAverages_Float32AndFloat64_OnEveryRank()
    {
        var results = InProcessProcessGroup.Run(3, g =>
        {
            var f = new float[] { g.Rank, 10 * g.Rank, 1 };
            var d = new double[] { g.Rank + 0.5, -g.Rank };
            var avg = new float[] { 3 * g.Rank };
            g.AllReduce(f.AsSpan());
            g.AllReduce(d.AsSpan());
            g.AllReduce(avg.AsSpan(), ReduceOp.Average);
            return (f, d, avg);
        });
        foreach (var (f, d, avg) in results)
        {
            Assert.Equal([3f, 30f, 3f], f);          // 0+1+2, 0+10+20, 1+1+1
            Assert.Equal([4.5, -3.0], d);            // 0.5+1.5+2.5, 0−1−2
            Assert.Equal([3f], avg);                 // (0+3+6)/3
        }
    }

    [Fact]
    public void AsyncAllReduces_CompleteInIssueOrder_AndWaitGivesTheResult()
    {
        var results = InProcessProcessGroup.Run(2, g =>
        {
            var a = new float[1000];
            var b = new double[10];
            Array.Fill(a, g.Rank + 1);
            Array.Fill(b, 2.0 * (g.Rank + 1));
            var ha = g.AllReduceAsync(a.AsMemory());
            var hb = g.AllReduceAsync(b.AsMemory(), ReduceOp.Average);
            hb.Wait();
            Assert.True(ha.IsCompleted); // one communication thread: a was reduced before b started
            ha.Wait();
            return (a[0], a[^1], b[0]);
        });
        Assert.All(results, r => Assert.Equal((3f, 3f, 3.0), r));
    }

    [Fact]
    public void Broadcast_CopiesTheRootsBuffer()
    {
        var results = InProcessProcessGroup.Run(3, g =>
        {
            var f = new float[] { g.Rank, g.Rank * 2 };
            var d = new double[] { g.Rank };
            g.Broadcast(f.AsSpan(), root: 1);
            g.Broadcast(d.AsSpan(), root: 2);
            return (f[0], f[1], d[0]);
        });
        Assert.All(results, r => Assert.Equal((1f, 2f, 2.0), r));
    }

    [Fact]
    public void Barrier_HoldsEveryRankUntilAllArrive()
    {
        int arrived = 0;
        var seen = InProcessProcessGroup.Run(4, g =>
        {
            Thread.Sleep(20 * g.Rank);
            Interlocked.Increment(ref arrived);
            g.Barrier();
            return Volatile.Read(ref arrived);
        });
        Assert.All(seen, n => Assert.Equal(4, n));
    }

    [Fact]
    public void OneRank_IsItsOwnGroup()
    {
        var r = InProcessProcessGroup.Run(1, g =>
        {
            var f = new float[] { 5 };
            g.AllReduce(f.AsSpan(), ReduceOp.Average);
            g.Broadcast(f.AsSpan());
            g.Barrier();
            return f[0];
        });
        Assert.Equal([5f], r);
    }

    [Fact]
    public void MismatchedLengths_AreAClearErrorOnEveryRank()
    {
        var e = Assert.Throws<InvalidOperationException>(() => InProcessProcessGroup.Run(2, g =>
        {
            var f = new float[g.Rank + 1];
            g.AllReduce(f.AsSpan());
            return 0;
        }));
        Assert.Contains("same length", e.Message);
    }

    [Fact]
    public void MismatchedCollectives_AreAClearError()
    {
        var e = Assert.Throws<InvalidOperationException>(() => InProcessProcessGroup.Run(2, g =>
        {
            var f = new float[1];
            if (g.Rank == 0) g.Barrier(); else g.AllReduce(f.AsSpan());
            return 0;
        }));
        Assert.Contains("same collectives", e.Message);
    }

    [Fact]
    public void AFailingRank_DoesNotHangTheOthers()
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<ArithmeticException>(() => InProcessProcessGroup.Run(3, g =>
        {
            if (g.Rank == 1) throw new ArithmeticException("rank 1 failed");
            g.Barrier();
            return 0;
        }, TimeSpan.FromSeconds(30)));
        Assert.Equal("rank 1 failed", e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
    }

    [Fact]
    public void ARankThatNeverArrives_TimesOut()
    {
        var groups = InProcessProcessGroup.Create(2, TimeSpan.FromMilliseconds(200));
        try
        {
            var e = Assert.Throws<TimeoutException>(() => groups[0].Barrier());
            Assert.Contains("rank 0 waited", e.Message);
        }
        finally
        {
            foreach (var g in groups) g.Dispose();
        }
    }

    [Fact]
    public void BadRootAndUseAfterDispose_AreClearErrors()
    {
        var g = InProcessProcessGroup.Create(1)[0];
        Assert.Throws<ArgumentOutOfRangeException>(() => g.Broadcast(new float[1].AsSpan(), root: 1));
        g.Dispose();
        Assert.Throws<ObjectDisposedException>(() => g.Barrier());
        g.Dispose(); // twice is harmless
    }

    [Fact]
    public void TensorCollectives_WorkInPlace_AndRefuseWhatTheyCannotCarry()
    {
        var results = InProcessProcessGroup.Run(2, g =>
        {
            var t = Tensor.Full([2, 2], g.Rank + 1.0, DType.Float64);
            g.AllReduce(t, ReduceOp.Average);
            var b = Tensor.Full([3], g.Rank * 7.0);
            g.Broadcast(b, root: 1);
            return (t.ToArray<double>(), b.ToArray<float>());
        });
        Assert.All(results, r =>
        {
            Assert.Equal([1.5, 1.5, 1.5, 1.5], r.Item1);
            Assert.Equal([7f, 7f, 7f], r.Item2);
        });
        var g1 = InProcessProcessGroup.Create(1)[0];
        using (g1)
        {
            Assert.Throws<DTypeException>(() => g1.AllReduce(Tensor.From(1, 2)));
            var e = Assert.Throws<InvalidOperationException>(() => g1.AllReduce(Tensor.Zeros(2, 3).Transpose(0, 1)));
            Assert.Contains("not contiguous", e.Message);
        }
    }

    [Fact]
    public void Mpi_WithoutMpirun_SaysSoInOneLine()
    {
        Assert.False(MpiProcessGroup.LaunchedByMpirun(_ => null));
        Assert.True(MpiProcessGroup.LaunchedByMpirun(v => v == "OMPI_COMM_WORLD_SIZE" ? "2" : null));
        Assert.True(MpiProcessGroup.LaunchedByMpirun(v => v == "PMIX_RANK" ? "0" : null));
        if (MpiProcessGroup.LaunchedByMpirun(Environment.GetEnvironmentVariable)) return; // this test process itself runs under mpirun
        var e = Assert.Throws<DistributedUnavailableException>(() => new MpiProcessGroup());
        Assert.Contains("not started by mpirun", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void OpenMpiBinding_NamesWhatIsMissing()
    {
        // Without the library: one line saying what to install; with it (CI installs openmpi-bin): every symbol binds.
        try
        {
            var mpi = Mpi.OpenMpi.Load();
            Assert.NotEqual(0, mpi.CommWorld);
            Assert.NotEqual(mpi.Float, mpi.Double);
        }
        catch (DistributedUnavailableException e)
        {
            Assert.Contains("apt-get install openmpi-bin", e.Message);
        }
    }
}
