using System.Diagnostics;

namespace Fovea.Fuzz;

/// <summary>What one input did to a loader.</summary>
public enum Outcome
{
    /// <summary>Loaded, within the time and memory limits.</summary>
    Accepted,

    /// <summary>Refused with <see cref="InvalidDataException"/>, within the limits: the documented failure.</summary>
    Rejected,

    /// <summary>Any other exception escaped the loader.</summary>
    WrongException,

    /// <summary>The call did not finish within the time limit.</summary>
    Hang,

    /// <summary>The call allocated, or grew the process, past its memory budget, or ran out of memory.</summary>
    Memory,
}

/// <summary>The oracle's verdict on one input.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Signature">What makes two failures the same one: the kind, the exception type and the first frame in Fovea or the decoder.</param>
/// <param name="Detail">One line for the report: the message, or the measured and allowed amounts.</param>
/// <param name="Elapsed">Wall time of the call.</param>
/// <param name="AllocatedBytes">Managed bytes allocated during the call.</param>
/// <param name="RssGrowthBytes">Growth of the peak resident size during the call, or null where it cannot be measured per call.</param>
/// <param name="Runaway">The call was still running and growing when it was given up: no more inputs can be run safely in this process.</param>
/// <param name="Exception">The exception that escaped, if any.</param>
public sealed record Verdict(Outcome Outcome, string Signature, string Detail, TimeSpan Elapsed, long AllocatedBytes, long? RssGrowthBytes, bool Runaway, Exception? Exception)
{
    /// <summary>Anything but a return or an <see cref="InvalidDataException"/> within the limits.</summary>
    public bool IsFailure => Outcome is Outcome.WrongException or Outcome.Hang or Outcome.Memory;

    /// <summary>The loader's thread is still running: the target cannot go on.</summary>
    public bool StopsTarget => Outcome == Outcome.Hang || Runaway;
}

/// <summary>The limits one call must stay within.</summary>
/// <param name="TimeLimit">Wall time for one call.</param>
/// <param name="MemoryCapBytes">An absolute ceiling on one call's memory, whatever it produced: a loader's size limits must refuse long before.</param>
public sealed record OracleLimits(TimeSpan TimeLimit, long MemoryCapBytes)
{
    /// <summary>The defaults: 2 s and 2 GB.</summary>
    public static OracleLimits Default { get; } = new(TimeSpan.FromSeconds(2), 2L << 30);

    /// <summary>
    /// The managed bytes a call may allocate: 64 MB + 16 x the file + 8 x what it legitimately produced, at most
    /// <see cref="MemoryCapBytes"/>. Measured on the seeds, a valid load allocates 2-6 x its output (the file's
    /// bytes, the decoder's copy, the float planes; JSON and tensor copies; a model built and then loaded), and
    /// small files need a few MB of fixed overhead (JSON parsing, the first use of a model type), so 8 x the output
    /// and 64 MB leave room for any legitimate path; 16 x the file covers loaders that copy the file a few times
    /// before knowing what it holds. A rejected input produced nothing: it may cost only the fixed part and its
    /// file, which is what a size check before allocating guarantees.
    /// </summary>
    public long AllocationBudget(long fileBytes, long producedBytes) =>
        Math.Min(MemoryCapBytes, (64L << 20) + 16 * fileBytes + 8 * producedBytes);

    /// <summary>
    /// The growth of the resident size a call may cause: the allocation budget plus 256 MB, because the GC grows
    /// its heap for garbage that earlier inputs left in generation 0, and freshly committed pages count as
    /// resident even though no single input needs them.
    /// </summary>
    public long ResidentBudget(long fileBytes, long producedBytes) =>
        Math.Min(MemoryCapBytes, AllocationBudget(fileBytes, producedBytes) + (256L << 20));
}

/// <summary>
/// Runs one input through a loader and judges it: the loader must return or throw <see cref="InvalidDataException"/>,
/// within the time limit and the memory budget. The call runs on its own thread so that a hang can be seen (a thread
/// cannot be stopped in .NET: the caller must give up the target and exit non-zero).
/// </summary>
public static partial class Oracle
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(20);

    /// <summary>
    /// Calls <paramref name="load"/> on <paramref name="path"/>; the loader returns the number of bytes it produced
    /// (pixels, tensors, weights), which sets its memory budget.
    /// </summary>
    public static Verdict Run(Func<string, long> load, string path, OracleLimits limits)
    {
        long fileBytes = new FileInfo(path).Length;
        long produced = 0;
        Exception? error = null;
        var worker = new Thread(() =>
        {
            try { produced = load(path); }
            catch (Exception e) { error = e; }
        })
        { IsBackground = true, Name = "fuzz loader" };

        bool perCall = MemoryProbe.PerCallPeak && MemoryProbe.TryResetPeak();
        long rssBefore = perCall ? MemoryProbe.PeakRss() : 0;
        // The imprecise count misses at most each thread's current allocation context (kilobytes), far below any
        // budget; the precise one suspends the runtime and cost more than a typical load.
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
        var clock = Stopwatch.StartNew();
        worker.Start();
        bool finished = false, runaway = false;
        while (!finished)
        {
            var left = limits.TimeLimit - clock.Elapsed;
            if (left <= TimeSpan.Zero) break;
            finished = worker.Join(left < Poll ? left : Poll);
            // A bomb that grows the process past the cap is given up before it takes the machine down.
            if (!finished && perCall && MemoryProbe.CurrentRss() - rssBefore > limits.MemoryCapBytes)
            {
                runaway = true;
                break;
            }
        }
        var elapsed = clock.Elapsed;
        long allocated = GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore;
        long? rssGrowth = perCall ? MemoryProbe.PeakRss() - rssBefore : null;

        if (runaway)
            return new(Outcome.Memory, "memory: resident size grew past the cap while loading", $"resident size grew by more than {Mb(limits.MemoryCapBytes)} while still running; given up after {elapsed.TotalMilliseconds:F0} ms", elapsed, allocated, rssGrowth, true, null);
        if (!finished)
        {
            // A decoder filling gigabytes for a tiny file is usually still at it when the time is up: that is a bomb,
            // not a loop, and it is reported with the memory failures.
            long bareAllocation = limits.AllocationBudget(fileBytes, 0), bareResident = limits.ResidentBudget(fileBytes, 0);
            if (allocated > bareAllocation || rssGrowth > bareResident)
                return new(Outcome.Memory, "memory: still allocating when the time limit passed",
                    $"did not finish within {limits.TimeLimit.TotalMilliseconds:F0} ms, and meanwhile allocated {Mb(allocated)} and grew the resident size by {(rssGrowth is { } g ? Mb(g) : "?")} for a {fileBytes}-byte file (budget without output {Mb(bareAllocation)} / {Mb(bareResident)})",
                    elapsed, allocated, rssGrowth, true, null);
            return new(Outcome.Hang, "hang", $"did not finish within {limits.TimeLimit.TotalMilliseconds:F0} ms (allocated {Mb(allocated)}, resident size grew by {(rssGrowth is { } r ? Mb(r) : "?")})", elapsed, allocated, rssGrowth, false, null);
        }
        if (error is OutOfMemoryException or InsufficientMemoryException)
            return new(Outcome.Memory, $"memory: {Signature(error)}", $"{error.GetType().Name} for a {fileBytes}-byte file: {FirstLine(error.Message)}", elapsed, allocated, rssGrowth, false, error);
        if (error is not null and not InvalidDataException)
            return new(Outcome.WrongException, Signature(error), FirstLine(error.Message), elapsed, allocated, rssGrowth, false, error);

        var outcome = error is null ? Outcome.Accepted : Outcome.Rejected;
        string what = error is null ? $"accepted ({produced} bytes produced)" : "rejected";
        long allocationBudget = limits.AllocationBudget(fileBytes, error is null ? produced : 0);
        if (allocated > allocationBudget)
            return new(Outcome.Memory, $"memory: allocation over budget, {outcome.ToString().ToLowerInvariant()}",
                $"allocated {Mb(allocated)} (budget {Mb(allocationBudget)}) for a {fileBytes}-byte file, {what}", elapsed, allocated, rssGrowth, false, error);
        long residentBudget = limits.ResidentBudget(fileBytes, error is null ? produced : 0);
        if (rssGrowth > residentBudget)
            return new(Outcome.Memory, $"memory: resident growth over budget, {outcome.ToString().ToLowerInvariant()}",
                $"resident size grew by {Mb(rssGrowth.Value)} (budget {Mb(residentBudget)}) for a {fileBytes}-byte file, {what}", elapsed, allocated, rssGrowth, false, error);
        return new(outcome, outcome.ToString().ToLowerInvariant(), error is null ? what : FirstLine(error.Message), elapsed, allocated, rssGrowth, false, error);
    }

    /// <summary>
    /// The first frame in Fovea or the decoder, as Type.Method (a lambda is named after the method it is in): frames
    /// in the base library (a throw helper, a collection's indexer) say too little about where the loader went wrong.
    /// </summary>
    public static string TopFrame(Exception e)
    {
        var frames = new StackTrace(e).GetFrames();
        var method = frames.Select(f => f.GetMethod()).FirstOrDefault(m => m?.DeclaringType?.Namespace is { } ns && !IsRuntime(ns))
            ?? frames.FirstOrDefault()?.GetMethod();
        if (method is null) return "?";
        string type = method.DeclaringType?.FullName ?? "?";
        int nested = type.IndexOf("+<", StringComparison.Ordinal);
        if (nested >= 0) type = type[..nested];
        var lambda = CompilerGeneratedName().Match(method.Name);
        return lambda.Success ? $"{type}.{lambda.Groups[1].Value} (lambda)" : $"{type}.{method.Name}";
    }

    private static bool IsRuntime(string ns) =>
        ns.StartsWith("System", StringComparison.Ordinal) || ns.StartsWith("Internal", StringComparison.Ordinal) || ns.StartsWith("Microsoft", StringComparison.Ordinal);

    /// <summary>
    /// What makes two failures the same: the exception type, the top frame, and the message's first sentence with
    /// numbers and quoted names blanked ("same key ... Key: dtype" and "... Key: shape" are one bug; a string where an
    /// int was expected and a number where a string was expected are two).
    /// </summary>
    public static string Signature(Exception e)
    {
        string message = FirstLine(e.Message);
        int sentence = message.IndexOf(". ", StringComparison.Ordinal);
        if (sentence > 0) message = message[..sentence];
        message = Numbers().Replace(message, "N");
        if (e is not InvalidOperationException) message = Quoted().Replace(message, "'…'");
        if (message.Length > 80) message = message[..77] + "...";
        return $"{e.GetType().Name} at {TopFrame(e)}: {message}";
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^<(\w+)>b__")]
    private static partial System.Text.RegularExpressions.Regex CompilerGeneratedName();

    [System.Text.RegularExpressions.GeneratedRegex(@"\d+")]
    private static partial System.Text.RegularExpressions.Regex Numbers();

    [System.Text.RegularExpressions.GeneratedRegex(@"'[^']*'")]
    private static partial System.Text.RegularExpressions.Regex Quoted();

    private static string FirstLine(string message)
    {
        string line = message.Split('\n')[0].TrimEnd();
        return line.Length <= 200 ? line : line[..197] + "...";
    }

    private static string Mb(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MB";
}
