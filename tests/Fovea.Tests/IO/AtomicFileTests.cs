using System.Diagnostics;
using Fovea.IO;

namespace Fovea.Tests.IO;

public class AtomicFileTests : IDisposable
{
    // Above Linux's largest pid_max (2^22) and not a multiple of 4 (Windows): no live process has it.
    private const int DeadPid = 1_999_999_999;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-atomic-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string Folder(string name)
    {
        string dir = Path.Combine(_dir, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    private static string[] Names(string dir) => Directory.GetFiles(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray()!;

    /// <summary>The temporary names an interrupted write leaves for <paramref name="target"/> under <paramref name="pid"/>, in every scheme Fovea has used.</summary>
    private static string[] TempNames(string target, int pid, Random rng)
    {
        string guid = Convert.ToHexStringLower(Enumerable.Range(0, 16).Select(_ => (byte)rng.Next(256)).ToArray());
        return
        [
            $".{target}{AtomicFile.TempMarker}{pid}-{guid}",
            $"{target}.tmp-{pid}",
            $"{target}.tmp-{pid}-{guid}",
            $".{target}.{pid}.{guid}.tmp",
        ];
    }

    [Fact]
    public void Write_CreatesTheFolder_AndLeavesOnlyTheTarget()
    {
        string path = Path.Combine(_dir, "a", "b", "out.txt");
        AtomicFile.WriteAllText(path, "hello");
        AtomicFile.WriteAllLines(path, ["one", "two"]);
        Assert.Equal("one\ntwo\n", File.ReadAllText(path));
        Assert.Equal(["out.txt"], Names(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void FailedWrite_KeepsTheOldContent_AndRemovesItsTemporaryFile()
    {
        string dir = Folder("fail");
        string path = Path.Combine(dir, "checkpoint.safetensors");
        AtomicFile.WriteAllText(path, "good");
        var e = Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new InvalidOperationException("disk on fire");
        }));
        Assert.Equal("disk on fire", e.Message);
        Assert.Equal("good", File.ReadAllText(path));
        Assert.Equal(["checkpoint.safetensors"], Names(dir));
    }

    [Fact]
    public void StaleTemporaryFiles_OfDeadWriters_AreRemovedAtTheNextWrite_LiveOnesStay()
    {
        var rng = new Random(7);
        using var live = Process.Start(new ProcessStartInfo("sleep", "30") { UseShellExecute = false })!;
        try
        {
            for (int trial = 0; trial < 5; trial++)
            {
                string dir = Folder($"stale{trial}");
                var dead = new List<string>();
                var keep = new List<string>();
                foreach (string target in new[] { "checkpoint.safetensors", "curves.png", "metrics.jsonl", $"f{rng.Next(1000)}.dot" })
                {
                    dead.AddRange(TempNames(target, DeadPid - rng.Next(1000), rng));
                    keep.AddRange(TempNames(target, Environment.ProcessId, rng)); // a concurrent write of this process
                    keep.AddRange(TempNames(target, live.Id, rng));               // a concurrent write of another process
                }
                // Look-alikes that are not ours stay too.
                keep.AddRange(["notes.tmp", "x.tmp-abc", "x.tmp-12-xyz", ".x.12.tmp", "fovea-tmp-12-" + new string('a', 32), "checkpoint.safetensors"]);
                foreach (string name in dead.Concat(keep)) File.WriteAllText(Path.Combine(dir, name), "");
                Assert.All(dead, n => Assert.True(AtomicFile.IsTemporary(n), n));

                AtomicFile.WriteAllText(Path.Combine(dir, "metrics.jsonl"), "{}");

                var left = Names(dir);
                Assert.Empty(left.Intersect(dead));
                Assert.Equal(keep.Append("metrics.jsonl").Distinct().Order(StringComparer.Ordinal), left);
            }
        }
        finally
        {
            live.Kill();
        }
    }

    [Fact]
    public void RemoveStale_CountsWhatItRemoved()
    {
        string dir = Folder("count");
        foreach (string name in TempNames("a.png", DeadPid, new Random(1))) File.WriteAllText(Path.Combine(dir, name), "");
        Assert.Equal(4, AtomicFile.RemoveStale(dir));
        Assert.Empty(Names(dir));
        Assert.Equal(0, AtomicFile.RemoveStale(Path.Combine(_dir, "no-such-folder")));
    }

    [Fact]
    public void ConcurrentWriters_OfOneFile_NeverSeeOrLeaveHalfAFile()
    {
        string dir = Folder("concurrent");
        string path = Path.Combine(dir, "shared.bin");
        var contents = Enumerable.Range(0, 8).Select(i => Enumerable.Repeat((byte)(i + 1), 200_000 + i).ToArray()).ToArray();
        Parallel.For(0, 64, new ParallelOptions { MaxDegreeOfParallelism = 8 }, i =>
        {
            AtomicFile.Write(path, s => s.Write(contents[i % 8]));
            var seen = File.ReadAllBytes(path);
            Assert.Contains(contents, c => c.AsSpan().SequenceEqual(seen));
        });
        Assert.Equal(["shared.bin"], Names(dir));
    }

    [Fact]
    public void TemporaryNames_AreHiddenBesideTheTarget_AndNeverEndInItsExtension()
    {
        string full = Path.Combine(_dir, "curves.png");
        string temp = AtomicFile.TempPath(full);
        Assert.Equal(_dir, Path.GetDirectoryName(temp));
        Assert.StartsWith(".curves.png" + AtomicFile.TempMarker + Environment.ProcessId + "-", Path.GetFileName(temp));
        Assert.False(temp.EndsWith(".png", StringComparison.Ordinal));
        Assert.True(AtomicFile.IsTemporary(temp));
        Assert.False(AtomicFile.IsTemporary(full));
        Assert.NotEqual(temp, AtomicFile.TempPath(full));
    }
}
