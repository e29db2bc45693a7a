namespace Fovea.Fuzz;

/// <summary>
/// The process's resident memory, including what native code (the image decoder's buffers) takes, which the GC's
/// allocation counter does not see. On Linux the kernel's peak (VmHWM) can be reset before each input by writing 5
/// to /proc/self/clear_refs, which gives the exact peak of one call; elsewhere only the process-wide peak exists.
/// </summary>
public static class MemoryProbe
{
    private const string StatusFile = "/proc/self/status";
    private const string ClearRefsFile = "/proc/self/clear_refs";

    /// <summary>Whether the per-call peak is available (Linux with a writable clear_refs).</summary>
    public static bool PerCallPeak { get; } = TryResetPeak();

    /// <summary>Resets the kernel's peak to the current resident size; false where that is not possible.</summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText(ClearRefsFile, "5");
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The current resident size in bytes.</summary>
    public static long CurrentRss() => ReadStatus("VmRSS:") ?? Refreshed().WorkingSet64;

    /// <summary>The peak resident size in bytes since the last <see cref="TryResetPeak"/> (or since the process started).</summary>
    public static long PeakRss() => ReadStatus("VmHWM:") ?? Refreshed().PeakWorkingSet64;

    private static System.Diagnostics.Process Refreshed()
    {
        var p = System.Diagnostics.Process.GetCurrentProcess();
        p.Refresh();
        return p;
    }

    private static long? ReadStatus(string field)
    {
        if (!File.Exists(StatusFile)) return null;
        foreach (string line in File.ReadLines(StatusFile))
            if (line.StartsWith(field, StringComparison.Ordinal))
            {
                // "VmHWM:     1956 kB"
                var parts = line[field.Length..].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        return null;
    }
}
