using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Fovea.IO;

/// <summary>
/// Writes files so that a reader never sees half of one, and so that interrupted writes do not pile up: the data goes
/// to a temporary file beside the target, named <c>.NAME.fovea-tmp-PID-GUID</c> (hidden, and never ending in the
/// target's extension, so nothing that lists a folder for <c>*.png</c> or <c>*.safetensors</c> picks it up), is flushed
/// to disk, and is renamed over the target. A failed write removes its temporary file. A process killed mid-write
/// (<c>kill -9</c>, power loss) leaves its temporary file behind; the next write into that folder removes such files
/// whose owning process is no longer alive, so a concurrent writer's file is never touched (a process sweeps one folder
/// at most every 30 seconds, so writing thousands of files into a big folder stays linear).
/// </summary>
public static partial class AtomicFile
{
    /// <summary>What every temporary file name carries between the target's name and the owner's process id.</summary>
    public const string TempMarker = ".fovea-tmp-";

    /// <summary>A folder is swept at most this often by one process, so writing many files into a big folder stays linear.</summary>
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private static readonly ConcurrentDictionary<string, long> LastSweep = new(StringComparer.Ordinal);

    /// <summary>
    /// Writes <paramref name="path"/> atomically: <paramref name="write"/> fills a temporary file beside it, which is
    /// flushed to disk and renamed over <paramref name="path"/>. The folder is created when missing. If anything
    /// fails, the temporary file is removed, <paramref name="path"/> keeps its old content, and the exception propagates.
    /// </summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"{path}: names a root, not a file", nameof(path));
        Directory.CreateDirectory(dir);
        RemoveStale(dir, onlyIfDue: true);
        string temp = TempPath(full);
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> as UTF-8 (no byte-order mark) to <paramref name="path"/> atomically.</summary>
    public static void WriteAllText(string path, string text) =>
        Write(path, s => s.Write(Encoding.UTF8.GetBytes(text)));

    /// <summary>Writes <paramref name="lines"/>, each ending in a newline, as UTF-8 to <paramref name="path"/> atomically.</summary>
    public static void WriteAllLines(string path, IEnumerable<string> lines) =>
        Write(path, s =>
        {
            using var w = new StreamWriter(s, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), leaveOpen: true) { NewLine = "\n" };
            foreach (var line in lines) w.WriteLine(line);
        });

    /// <summary>
    /// True when <paramref name="path"/> names a temporary file of an atomic write: this scheme's
    /// <c>.NAME.fovea-tmp-PID-GUID</c>, or those of earlier Fovea versions (<c>NAME.tmp-PID</c>,
    /// <c>NAME.tmp-PID-GUID</c>, <c>.NAME.PID.GUID.tmp</c>). Such a file is never a result.
    /// </summary>
    public static bool IsTemporary(string path) => OwnerOf(Path.GetFileName(path)) is not null;

    /// <summary>
    /// Removes the temporary files in <paramref name="directory"/> left by writes whose process is gone, and returns
    /// how many it removed. Files of live processes (including this one) stay. Failures to list or delete are ignored:
    /// cleaning up never makes a write fail.
    /// </summary>
    public static int RemoveStale(string directory) => RemoveStale(Path.GetFullPath(directory), onlyIfDue: false);

    private static int RemoveStale(string directory, bool onlyIfDue)
    {
        long now = Environment.TickCount64;
        if (onlyIfDue)
        {
            long last = LastSweep.GetOrAdd(directory, long.MinValue);
            if (last != long.MinValue && now - last < (long)SweepInterval.TotalMilliseconds) return 0;
        }
        LastSweep[directory] = now;
        int removed = 0;
        try
        {
            foreach (var file in Directory.EnumerateFiles(directory, "*tmp*"))
                if (OwnerOf(Path.GetFileName(file)) is { } pid && !IsAlive(pid) && TryDelete(file)) removed++;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
        return removed;
    }

    /// <summary>The temporary name for <paramref name="fullPath"/>: hidden, beside it, unique to this process and call.</summary>
    internal static string TempPath(string fullPath) =>
        Path.Combine(Path.GetDirectoryName(fullPath)!,
            string.Create(CultureInfo.InvariantCulture, $".{Path.GetFileName(fullPath)}{TempMarker}{Environment.ProcessId}-{Guid.NewGuid():N}"));

    /// <summary>The process id in a temporary file's name, or null when <paramref name="fileName"/> is not one.</summary>
    private static int? OwnerOf(string fileName)
    {
        var m = TempName().Match(fileName);
        if (!m.Success) m = LegacySuffixName().Match(fileName);
        if (!m.Success) m = LegacyDotName().Match(fileName);
        return m.Success && int.TryParse(m.Groups["pid"].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out int pid) ? pid : null;
    }

    private static bool IsAlive(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException)
        {
            return false;
        }
    }

    private static bool TryDelete(string path)
    {
        try
        {
            File.Delete(path);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    [GeneratedRegex(@"^\..+\.fovea-tmp-(?<pid>[0-9]{1,10})-[0-9a-f]{32}$", RegexOptions.CultureInvariant)]
    private static partial Regex TempName();

    // Earlier versions wrote checkpoints and metrics as NAME.tmp-PID[-GUID] ...
    [GeneratedRegex(@"^.+\.tmp-(?<pid>[0-9]{1,10})(-[0-9a-f]{32})?$", RegexOptions.CultureInvariant)]
    private static partial Regex LegacySuffixName();

    // ... and PNGs as .NAME.PID.GUID.tmp.
    [GeneratedRegex(@"^\..+\.(?<pid>[0-9]{1,10})\.[0-9a-f]{32}\.tmp$", RegexOptions.CultureInvariant)]
    private static partial Regex LegacyDotName();
}
