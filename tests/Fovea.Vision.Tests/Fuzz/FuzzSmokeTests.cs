using System.Buffers.Binary;
using System.Text;
using Fovea.Fuzz;

namespace Fovea.Vision.Tests.Fuzz;

// Inside the namespace: the namespace Fovea.Vision.Tests.Oracle (the OpenCV reference tests) would shadow an alias outside it.
using Oracle = Fovea.Fuzz.Oracle;

/// <summary>
/// The oracle measures allocation and resident size per process: these tests run alone, so that other tests'
/// allocations cannot push a fake loader over its budget.
/// </summary>
[CollectionDefinition(nameof(FuzzSmokeTests), DisableParallelization = true)]
public sealed class FuzzOracleCollection;

/// <summary>
/// The fuzzer's own parts: mutants are a pure function of the seed and the input index, and the oracle catches each
/// kind of failure it is meant to catch (a wrong exception type, a hang, memory past the budget), with fake loaders
/// that fail on purpose.
/// </summary>
[Collection(nameof(FuzzSmokeTests))]
public class FuzzSmokeTests : IDisposable
{
    // Loads that should finish get a time limit no loaded test machine reaches; the hang tests wait out a short one.
    private static readonly OracleLimits Quick = new(TimeSpan.FromSeconds(20), 32L << 20);
    private static readonly OracleLimits ShortTime = Quick with { TimeLimit = TimeSpan.FromMilliseconds(500) };

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-fuzz-test-{Guid.NewGuid():N}");

    public FuzzSmokeTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Input(byte[] bytes)
    {
        string path = Path.Combine(_dir, $"input-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static Mutator SafetensorsMutator() => new(Targets.Find("safetensors")!.Seeds(), SafetensorsHeaderEdit.HeaderEnd, safetensorsHeader: true);

    [Fact]
    public void Mutants_AreAFunctionOfSeedTargetAndIndex()
    {
        var mutator = SafetensorsMutator();
        for (long index = 0; index < 50; index++)
        {
            var a = mutator.Mutate(FuzzRandom.ForInput(7, "safetensors", index));
            var b = SafetensorsMutator().Mutate(FuzzRandom.ForInput(7, "safetensors", index));
            Assert.Equal(a.Data, b.Data);
            Assert.Equal(a.Steps, b.Steps);
        }
        var first = Enumerable.Range(0, 50).Select(i => mutator.Mutate(FuzzRandom.ForInput(7, "safetensors", i)).Data).ToList();
        var otherSeed = Enumerable.Range(0, 50).Select(i => mutator.Mutate(FuzzRandom.ForInput(8, "safetensors", i)).Data).ToList();
        var otherTarget = Enumerable.Range(0, 50).Select(i => mutator.Mutate(FuzzRandom.ForInput(7, "checkpoint", i)).Data).ToList();
        Assert.True(first.Distinct(new BytesComparer()).Count() > 40, "inputs of one run should differ from each other");
        Assert.True(first.Zip(otherSeed).Count(p => !p.First.SequenceEqual(p.Second)) > 40, "another run seed should give other inputs");
        Assert.True(first.Zip(otherTarget).Count(p => !p.First.SequenceEqual(p.Second)) > 40, "another target should get other inputs");
    }

    [Fact]
    public void Mutator_UsesEveryKindOfStep()
    {
        var mutator = SafetensorsMutator();
        var steps = Enumerable.Range(0, 400).SelectMany(i => mutator.Mutate(FuzzRandom.ForInput(1, "t", i)).Steps).ToList();
        foreach (string kind in new[] { "flip bit", "= 0x", "u16be", "u16le", "u32be", "u32le", "+=", "truncate", "append", "insert a copy", "delete", "splice", "header:", "(duplicate key)" })
            Assert.Contains(steps, s => s.Contains(kind, StringComparison.Ordinal));
    }

    [Fact]
    public void HeaderEdits_KeepTheFileFramed()
    {
        byte[] seed = Targets.Find("checkpoint")!.Seeds()[0];
        int seedHeaderEnd = SafetensorsHeaderEdit.HeaderEnd(seed);
        string seedHeader = Encoding.UTF8.GetString(seed, 8, seedHeaderEnd - 8);
        int changed = 0;
        for (int i = 0; i < 100; i++)
        {
            byte[]? edited = SafetensorsHeaderEdit.Apply(seed, FuzzRandom.ForInput(3, "edit", i), out string step);
            Assert.NotNull(edited);
            ulong length = BinaryPrimitives.ReadUInt64LittleEndian(edited);
            Assert.True(length % 8 == 0 && (long)length <= edited.Length - 8, step);
            Assert.Equal(seed.AsSpan(seedHeaderEnd).ToArray(), edited.AsSpan(8 + (int)length).ToArray());
            // A few edits are no-ops (a key replaced by itself, a value by an equal one).
            if (Encoding.UTF8.GetString(edited, 8, (int)length).TrimEnd() != seedHeader.TrimEnd()) changed++;
        }
        Assert.True(changed >= 90, $"only {changed} of 100 header edits changed the header");
    }

    [Fact]
    public void Oracle_AcceptsReturnsAndInvalidDataException()
    {
        string path = Input([1, 2, 3]);
        Assert.Equal(Outcome.Accepted, Oracle.Run(_ => 3, path, Quick).Outcome);
        var rejected = Oracle.Run(p => throw new InvalidDataException($"{p}: bad"), path, Quick);
        Assert.Equal(Outcome.Rejected, rejected.Outcome);
        Assert.False(rejected.IsFailure);
    }

    [Fact]
    public void Oracle_FlagsAnyOtherExceptionWithItsTypeAndFrame()
    {
        string path = Input([1, 2, 3]);
        foreach (var (throwIt, name) in new (Action, string)[]
        {
            (() => throw new NullReferenceException(), nameof(NullReferenceException)),
            (() => throw new FileNotFoundException("gone"), nameof(FileNotFoundException)),
            (() => _ = checked(int.MaxValue + int.Parse("1")), nameof(OverflowException)),
        })
        {
            var verdict = Oracle.Run(_ => { throwIt(); return 0; }, path, Quick);
            Assert.Equal(Outcome.WrongException, verdict.Outcome);
            Assert.True(verdict.IsFailure);
            Assert.StartsWith(name, verdict.Signature);
            Assert.Contains(nameof(FuzzSmokeTests), verdict.Signature);
        }
    }

    [Fact]
    public void Oracle_FlagsAHang()
    {
        using var release = new ManualResetEventSlim();
        var verdict = Oracle.Run(_ => { release.Wait(TimeSpan.FromSeconds(30)); return 0; }, Input([1]), ShortTime);
        release.Set();
        Assert.Equal(Outcome.Hang, verdict.Outcome);
        Assert.True(verdict.StopsTarget);
        Assert.True(verdict.Elapsed >= ShortTime.TimeLimit);
    }

    [Fact]
    public void Oracle_CallsALoadStillAllocatingAtTheTimeLimitABomb()
    {
        using var release = new ManualResetEventSlim();
        var verdict = Oracle.Run(_ =>
        {
            // Far more than the allocation budget before the time limit, while the resident size stays under the cap:
            // 64 KB arrays, their generation collected every 8 MB. (Arrays of 1 MB went to the large-object heap,
            // which only a full collection frees, and on a quiet machine grew the process past the cap first.)
            for (int i = 1; !release.IsSet; i++)
            {
                GC.KeepAlive(new byte[1 << 16]);
                if (i % 128 == 0) GC.Collect(0);
            }
            return 0;
        }, Input([1]), ShortTime);
        release.Set();
        Assert.Equal(Outcome.Memory, verdict.Outcome);
        Assert.True(verdict.Runaway && verdict.StopsTarget);
        Assert.Contains("time limit", verdict.Signature);
    }

    [Fact]
    public void Oracle_FlagsAllocationPastTheBudget_ForAcceptedAndRejectedInputs()
    {
        string path = Input(new byte[100]);
        // 64 MB in 1 MB pieces that die at once: the budget counts what was allocated, not what is kept.
        static void Churn()
        {
            for (int i = 0; i < 64; i++) GC.KeepAlive(new byte[1 << 20]);
        }
        var accepted = Oracle.Run(_ => { Churn(); return 100; }, path, Quick);
        Assert.Equal(Outcome.Memory, accepted.Outcome);
        Assert.Contains("accepted", accepted.Signature);
        var rejected = Oracle.Run(_ => { Churn(); throw new InvalidDataException("no"); }, path, Quick);
        Assert.Equal(Outcome.Memory, rejected.Outcome);
        Assert.Contains("rejected", rejected.Signature);
        Assert.Equal(Outcome.Memory, Oracle.Run(_ => throw new OutOfMemoryException(), path, Quick).Outcome);
        // The same work is fine when the output justifies it: 8 x 16 MB produced.
        Assert.Equal(Outcome.Accepted, Oracle.Run(_ => { Churn(); return 16L << 20; }, path, Quick with { MemoryCapBytes = 1L << 30 }).Outcome);
    }

    [Fact]
    public void Runner_CountsDedupesAndSavesFailures_AndStopsAtAHang()
    {
        using var release = new ManualResetEventSlim();
        // A fake loader with two bugs, a hang when the file shrank to 2 bytes or less and an escaping
        // NullReferenceException when its first byte changed, and a rejection for anything else that changed.
        byte[] seed = Encoding.ASCII.GetBytes("FAKE-FORMAT-SEED-0123456789");
        var target = new FuzzTarget("fake", ".bin", () => [seed], path =>
        {
            byte[] data = File.ReadAllBytes(path);
            if (data.Length <= 2) { release.Wait(TimeSpan.FromSeconds(30)); return 0; }
            if (data[0] != seed[0]) throw new NullReferenceException();
            if (!data.AsSpan().SequenceEqual(seed)) throw new InvalidDataException("changed");
            return data.Length;
        });
        string saves = Path.Combine(_dir, "failures");
        // 2 s: long enough that no ordinary input of a busy machine is taken for the hang.
        var runner = new FuzzRunner(new FuzzOptions(3000, 5, Quick with { TimeLimit = TimeSpan.FromSeconds(2) }, saves), TextWriter.Null);
        var report = runner.Run(target, Path.Combine(_dir, "work"));
        release.Set();

        Assert.NotNull(report.Stopped);
        Assert.Contains("hang", report.Stopped);
        Assert.True(report.Inputs < 3000);
        Assert.Equal(1, report.FailuresByKind["hang"]);
        Assert.True(report.FailuresByKind.GetValueOrDefault(nameof(NullReferenceException)) > 0, report.Summary());
        Assert.Equal(report.Inputs, report.Accepted + report.Rejected + report.Failures);
        Assert.Equal(2, report.Distinct.Count);
        foreach (var failure in report.Distinct.Values)
        {
            Assert.NotEmpty(failure.Saved);
            Assert.All(failure.Saved, f => Assert.True(File.Exists(f) && File.Exists(Path.ChangeExtension(f, ".txt"))));
        }
        string reason = File.ReadAllText(Path.ChangeExtension(report.Distinct.Values.First(f => f.Kind == "hang").Saved[0], ".txt"));
        Assert.Contains("--replay", reason);
        Assert.Contains("--seed 5 --start", reason);
        Assert.Contains("failures", report.Summary());
    }

    [Fact]
    public void EverySeedLoads()
    {
        foreach (var target in Targets.All)
        {
            var seeds = target.Seeds();
            Assert.NotEmpty(seeds);
            foreach (byte[] seed in seeds)
            {
                var verdict = Oracle.Run(target.Load, Input(seed), OracleLimits.Default);
                Assert.True(verdict.Outcome == Outcome.Accepted || target.FormatMayBeRefused && verdict.Outcome == Outcome.Rejected,
                    $"{target.Name}: a seed gives {verdict.Outcome}: {verdict.Detail}");
            }
        }
    }

    private sealed class BytesComparer : IEqualityComparer<byte[]>
    {
        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = new HashCode();
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }
}
