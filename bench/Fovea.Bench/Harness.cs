using System.Diagnostics;
using System.Globalization;
using System.Runtime;

namespace Fovea.Bench;

/// <summary>
/// One side-by-side benchmark: Fovea and an anchor (TorchSharp, OpenCvSharp, ...) doing the same work.
/// A case file adds instances of this and registers its provider in <see cref="Registry"/>.
/// </summary>
public abstract class BenchCase : IDisposable
{
    /// <summary>Case name without the thread suffix, e.g. <c>sgemm_1024</c>; <c>--filter</c> matches it.</summary>
    public abstract string Name { get; }

    /// <summary>Names of the columns this case prints after <c>ratio</c> (empty for none).</summary>
    public virtual string[] ExtraColumns => [];

    /// <summary>Prepares inputs and outputs for <paramref name="threads"/> threads (already applied to both libraries).</summary>
    public virtual void Setup(int threads) { }

    /// <summary>One timed run of Fovea's side.</summary>
    public abstract void RunFovea();

    /// <summary>One timed run of the anchor's side.</summary>
    public abstract void RunAnchor();

    /// <summary>Values for <see cref="ExtraColumns"/>, from the two medians.</summary>
    public virtual string[] Extra(int threads, double foveaMs, double anchorMs) => [];

    /// <summary>Releases inputs (native tensors in particular) after the case ran.</summary>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}

/// <summary>Options shared by all cases.</summary>
public sealed record BenchOptions(string[] Filters, int[] Threads, double SecondsPerCase, int MinRounds)
{
    /// <summary>True when <paramref name="name"/> contains any filter (or no filter was given).</summary>
    public bool Selects(string name) => Filters.Length == 0 || Filters.Any(f => name.Contains(f, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// Runs cases interleaved (Fovea, anchor, anchor, Fovea, ...) after a warm-up and prints medians, so drift from
/// other work on a shared machine hits both sides alike. Prints one CSV line per case and thread count, then, where the
/// run has several thread counts, one with Fovea's time at the fewest and the most, measured alternately.
/// </summary>
public static class Harness
{
    /// <summary>
    /// Pause before each timed run, so the helper threads the other library left polling (libgomp's, ONNX Runtime's,
    /// ours) have gone to sleep and do not compete with this run for the two cores: at least this long, then in
    /// <see cref="SettleStepMs"/> steps until the process used less than a fifth of a core over a step (at most
    /// <see cref="SettleMaxMs"/>). ONNX Runtime's intra-op threads keep one core busy for about 37 ms after each run
    /// (measured: 0.75 cores over the 50 ms after a batch-1 ResNet-18, 0.38 over 100 ms, 0.18 over 200 ms), so a fixed
    /// 10 ms pause left them spinning through the next Fovea run.
    /// </summary>
    private const int SettleMs = 10;

    /// <summary>Step of the settle pause after its first <see cref="SettleMs"/>.</summary>
    private const int SettleStepMs = 5;

    /// <summary>Longest settle pause.</summary>
    private const int SettleMaxMs = 250;

    /// <summary>Runs this short, and shorter, are preceded by untimed runs of the same side (see <see cref="PrimeSeconds"/>).</summary>
    private const double PrimeBelowSeconds = 0.1;

    /// <summary>
    /// How long those untimed runs last: on a virtual machine a helper thread woken from sleep can take milliseconds
    /// to get its core back, so one short run is not enough to reach the steady state of back-to-back calls.
    /// </summary>
    private const double PrimeSeconds = 0.005;

    /// <summary>
    /// Warm-up, then interleaved timed rounds until the time budget is spent; returns the two medians in ms.
    /// Each timed run is preceded by a settle pause and, for short cases, by an untimed run of the same side, so
    /// both libraries are measured in the steady state of back-to-back calls (their helper threads awake, the other
    /// library's asleep) rather than paying for the other's threads or for waking their own.
    /// </summary>
    public static (double foveaMs, double anchorMs) Measure(BenchCase bc, BenchOptions options)
    {
        // Warm-up: gets both sides through tiering / first-touch allocation and gives a first duration estimate.
        // Three runs are not enough for cases of half a second or more: the runtime's dynamic PGO compiles a hot
        // method again, instrumented, after 30 calls and once more, optimized, after that, so each side keeps warming
        // up until it has gone WarmSettledRuns runs without a new best time (more than 3% under the best before).
        // And until the JIT has gone quiet (nothing compiled for JitQuietSeconds): a side that is still being compiled runs partly unoptimized code, and the
        // runtime's compiler thread takes a core from its helper threads (ResNet-18 at batch 1, the first case of a
        // run: 589 methods compiled during the timed rounds after six warm-up runs, and a fifth of the two-thread
        // regions ran without their helper, which had not polled for 0.4 ms while the compiler ran).
        double warm = 0;
        int warmRuns = 0;
        var jit = new JitWatch();
        var fovea = new List<double>();
        var anchor = new List<double>();
        for (; warmRuns < 3 || (warm < 0.3 && warmRuns < 50)
            || ((!Settled(fovea) || !Settled(anchor)) && warmRuns < WarmMaxRuns && warm < WarmMaxSeconds)
            || (!jit.Quiet && warmRuns < WarmMaxJitRuns && warm < WarmMaxSeconds); warmRuns++)
        {
            fovea.Add(WarmUpRun(bc.RunFovea, ref jit));
            anchor.Add(WarmUpRun(bc.RunAnchor, ref jit));
            warm += fovea[^1] + anchor[^1];
        }
        long compiledBefore = JitInfo.GetCompiledMethodCount();
        bool prime = warm / (2 * warmRuns) < PrimeBelowSeconds;

        var medians = Alternate(() => Time(bc.RunFovea, prime), () => Time(bc.RunAnchor, prime), options);
        LastTimedCompiles = JitInfo.GetCompiledMethodCount() - compiledBefore;
        return medians;
    }

    /// <summary>
    /// The timed rounds: <paramref name="a"/> and <paramref name="b"/> once each per round, which goes first alternating
    /// so neither always runs on a warmer cache or a quieter core, until <see cref="BenchOptions.MinRounds"/> rounds and
    /// <see cref="BenchOptions.SecondsPerCase"/> have passed (at most 1,000 rounds); their medians in ms.
    /// </summary>
    private static (double aMs, double bMs) Alternate(Func<double> a, Func<double> b, BenchOptions options)
    {
        var first = new List<double>();
        var second = new List<double>();
        var total = Stopwatch.StartNew();
        for (int round = 0; round < 1000; round++)
        {
            if ((round & 1) == 0)
            {
                first.Add(a());
                second.Add(b());
            }
            else
            {
                second.Add(b());
                first.Add(a());
            }
            if (round + 1 >= options.MinRounds && total.Elapsed.TotalSeconds >= options.SecondsPerCase) break;
        }
        return (Median(first) * 1e3, Median(second) * 1e3);
    }

    /// <summary>
    /// Fovea's own time at two thread counts, the settings alternating round by round (only Fovea's side runs, each
    /// run after a settle pause and, for short cases, an untimed run at the same setting); returns the two medians in
    /// ms. The per-thread-count rows are measured minutes apart, and on a 2-core virtual machine whose second core
    /// comes and goes the drift between them can exceed the difference a second thread makes: this pair answers
    /// "slower on more threads?" under the same conditions.
    /// </summary>
    public static (double fewMs, double manyMs) MeasureThreadCounts(BenchCase bc, BenchOptions options, int few, int many)
    {
        double warm = 0;
        for (int i = 0; i < 2; i++)
        {
            Fovea.Threading.MaxDegreeOfParallelism = few;
            warm += Time(bc.RunFovea, prime: false);
            Fovea.Threading.MaxDegreeOfParallelism = many;
            warm += Time(bc.RunFovea, prime: false);
        }
        bool prime = warm / 4 < PrimeBelowSeconds;
        double At(int threads)
        {
            Fovea.Threading.MaxDegreeOfParallelism = threads;
            return Time(bc.RunFovea, prime);
        }
        return Alternate(() => At(few), () => At(many), options);
    }

    /// <summary>Methods the JIT compiled during the timed rounds of the last <see cref="Measure"/> (printed with the case).</summary>
    private static long LastTimedCompiles;

    /// <summary>Runs every selected case of every provider at every thread count and prints the table.</summary>
    public static void RunAll(IEnumerable<Func<IEnumerable<BenchCase>>> providers, BenchOptions options)
    {
        string[]? lastHeader = null;
        foreach (var provider in providers)
        {
            foreach (var bc in provider())
            {
                using (bc)
                {
                    if (!options.Selects(bc.Name)) continue;
                    foreach (int threads in options.Threads)
                    {
                        Fovea.Threading.MaxDegreeOfParallelism = threads;
                        TorchAnchor.SetThreads(threads);
                        bc.Setup(threads);
                        var collections = CollectionCounts();
                        var pause = GC.GetTotalPauseDuration();
                        long faults = MinorFaults();
                        var (f, a) = Measure(bc, options);
                        var after = CollectionCounts();
                        long faulted = MinorFaults() - faults;
                        // Refresh the peak next to every case so that fractions use a figure taken in similar conditions.
                        double fmaNow = FmaPeak.Remeasure(threads);
                        // Both libraries' allocations count here. A case whose rounds pay for collections or for memory
                        // touched for the first time (page faults) shows it on this line, which starts with '#' as comments
                        // do; so does a case measured while a core was busy elsewhere (the FMA rate just after it is low).
                        Console.WriteLine($"# during {bc.Name}_t{threads}: collections gen0 {after[0] - collections[0]}, gen1 {after[1] - collections[1]}, "
                            + $"gen2 {after[2] - collections[2]}, paused {(GC.GetTotalPauseDuration() - pause).TotalMilliseconds:0} ms; page faults {faulted}; "
                            + $"FMA just after {fmaNow:0} GFLOP/s; methods compiled during the timed rounds {LastTimedCompiles}");
                        string[] header = ["case", "fovea_ms", "anchor_ms", "ratio", .. bc.ExtraColumns];
                        if (lastHeader is null || !header.SequenceEqual(lastHeader))
                        {
                            Console.WriteLine(string.Join(", ", header));
                            lastHeader = header;
                        }
                        string[] row = [$"{bc.Name}_t{threads}", F(f), F(a), F(f / a, "0.00"), .. bc.Extra(threads, f, a)];
                        Console.WriteLine(string.Join(", ", row));
                    }
                    if (options.Threads.Length > 1)
                    {
                        int few = options.Threads.Min(), many = options.Threads.Max();
                        var (fewMs, manyMs) = MeasureThreadCounts(bc, options, few, many);
                        string[] header = ["case", $"fovea_ms_t{few}", $"fovea_ms_t{many}", $"t{many}_over_t{few}"];
                        if (lastHeader is null || !header.SequenceEqual(lastHeader))
                        {
                            Console.WriteLine(string.Join(", ", header));
                            lastHeader = header;
                        }
                        Console.WriteLine(string.Join(", ", new[] { $"{bc.Name}_threads", F(fewMs), F(manyMs), F(manyMs / fewMs, "0.00") }));
                    }
                }
            }
        }
    }

    private static int[] CollectionCounts() => [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];

    /// <summary>The process's minor page faults so far (field 10 of /proc/self/stat), or 0 where that file cannot be read.</summary>
    private static long MinorFaults()
    {
        string stat;
        try
        {
            stat = File.ReadAllText("/proc/self/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
        // The command name (field 2) is in parentheses and may hold spaces; the fields after it are plain, and the
        // minor faults are the eighth of them.
        int end = stat.LastIndexOf(')');
        string[] fields = end < 0 ? [] : stat[(end + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return fields.Length > 7 && long.TryParse(fields[7], NumberStyles.Integer, CultureInfo.InvariantCulture, out long faults) ? faults : 0;
    }

    /// <summary>
    /// Starts this bench again with <paramref name="arguments"/> and returns the value of the first line of its output
    /// that starts with <paramref name="key"/> and a space, or null (with the reason on stderr) when it failed. For
    /// figures that must come from a process of their own: a peak working set, or a side measured without the other
    /// library's threads in the process.
    /// </summary>
    public static string? RunChild(string key, params string[] arguments)
    {
        string host = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, UseShellExecute = false };
        // Started as "dotnet Fovea.Bench.dll": the child needs the assembly too.
        if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(typeof(Harness).Assembly.Location);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        using var child = Process.Start(psi)!;
        string output = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(key + " ", StringComparison.Ordinal));
        if (child.ExitCode == 0 && line is not null) return line[(key.Length + 1)..].Trim();
        Console.Error.WriteLine($"# child {string.Join(' ', arguments)} failed (exit {child.ExitCode})");
        return null;
    }

    /// <summary>
    /// Warm-up until settled and the JIT is quiet, then back-to-back timed runs of <paramref name="run"/> for <paramref name="seconds"/> (at
    /// least <paramref name="minRuns"/>); the median in ms. The measurement of a child that runs one side alone.
    /// </summary>
    public static double MeasureAlone(Action run, double seconds, int minRuns)
    {
        var times = new List<double>();
        var jit = new JitWatch();
        for (int i = 0; i < 3 || (!Settled(times) && i < WarmMaxRuns) || (!jit.Quiet && i < WarmMaxJitRuns); i++)
            times.Add(WarmUpRun(run, ref jit));
        times.Clear();
        var total = Stopwatch.StartNew();
        while (times.Count < minRuns || total.Elapsed.TotalSeconds < seconds)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return Median(times) * 1e3;
    }

    /// <summary>
    /// Hands a case's outputs back to <see cref="StoragePool"/> once it is done with them (<see cref="StoragePool.Recycle"/>),
    /// as the TorchSharp side's dispose scope hands its tensors back to libtorch's allocator: each library's next call
    /// then writes into memory its process already has, and the row measures the kernels rather than the page faults
    /// of a fresh output (about 10 µs for each 4 KiB page on the Zen 5 machine).
    /// </summary>
    public static void HandBack(params Tensor?[] outputs)
    {
        foreach (var t in outputs)
            if (t is not null) StoragePool.Recycle(t);
    }

    /// <summary>Formats a number with invariant culture.</summary>
    public static string F(double x, string format = "0.000") => x.ToString(format, CultureInfo.InvariantCulture);

    private static double Time(Action run, bool prime)
    {
        Settle();
        if (prime)
        {
            long p0 = Stopwatch.GetTimestamp();
            do run();
            while (Stopwatch.GetElapsedTime(p0).TotalSeconds < PrimeSeconds);
        }
        long t0 = Stopwatch.GetTimestamp();
        run();
        return Stopwatch.GetElapsedTime(t0).TotalSeconds;
    }

    /// <summary>A timed warm-up run; <paramref name="jit"/> notes whether the JIT compiled a method meanwhile.</summary>
    private static double WarmUpRun(Action run, ref JitWatch jit)
    {
        double seconds = Time(run, prime: false);
        jit.Observe();
        return seconds;
    }

    /// <summary>
    /// How long the JIT must have compiled nothing before the warm-up counts it quiet (0.5 s). The runtime promotes a
    /// method that reached its call count only after a delay of 100 ms without new first-tier compilations, and then
    /// compiles the queue in the background; so one warm-up round of a short case (two runs and their pauses, 30–50 ms
    /// for ResNet-18 at batch 1) could pass with nothing compiled while a batch was still due. With that rule, 569
    /// methods (526 ms of compiler time) were compiled during 200 forwards that followed 30 warm-up ones, the
    /// compiler thread taking the two-thread forward's helper core: the helper waited 2.3 ms a forward for a core, and
    /// the forward averaged 12.1 ms; with tiered compilation off, 0.08 ms and 10.9 ms. The JIT went quiet about 80
    /// forwards (1.1 s) later.
    /// </summary>
    private const double JitQuietSeconds = 0.5;

    /// <summary>Whether the JIT has compiled anything for <see cref="JitQuietSeconds"/>, checked after each warm-up run.</summary>
    private struct JitWatch
    {
        private long _compiled;
        private long _changedAt;

        /// <summary>True when no method was compiled in the last <see cref="JitQuietSeconds"/> (false before the first run).</summary>
        public readonly bool Quiet => _changedAt != 0 && Stopwatch.GetElapsedTime(_changedAt).TotalSeconds >= JitQuietSeconds;

        /// <summary>Notes the compiled-method count after a run.</summary>
        public void Observe()
        {
            long now = JitInfo.GetCompiledMethodCount();
            if (now != _compiled || _changedAt == 0)
            {
                _compiled = now;
                _changedAt = Stopwatch.GetTimestamp();
            }
        }
    }

    /// <summary>Sleeps <see cref="SettleMs"/>, then until the process is idle (see <see cref="SettleMs"/>).</summary>
    private static void Settle()
    {
        Thread.Sleep(SettleMs);
        using var self = Process.GetCurrentProcess();
        for (int waited = SettleMs; waited < SettleMaxMs; waited += SettleStepMs)
        {
            self.Refresh();
            var cpu0 = self.TotalProcessorTime;
            long t0 = Stopwatch.GetTimestamp();
            Thread.Sleep(SettleStepMs);
            self.Refresh();
            double busy = (self.TotalProcessorTime - cpu0).TotalMilliseconds / Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            if (busy < 0.2) return;
        }
    }

    /// <summary>Warm-up runs in a row without a new best time after which a side counts as warmed up.</summary>
    private const int WarmSettledRuns = 2;

    /// <summary>Bounds on the warm-up of <see cref="Measure"/>: runs (each side), and seconds (both sides together).</summary>
    private const int WarmMaxRuns = 15;

    private const double WarmMaxSeconds = 15;

    /// <summary>
    /// Bound on the warm-up runs (each side) spent waiting for the JIT to go quiet: the runtime compiles a method
    /// again after 30 calls, and a method called once per run needs 30 runs to get there.
    /// </summary>
    private const int WarmMaxJitRuns = 120;

    /// <summary>
    /// True when the last <see cref="WarmSettledRuns"/> runs of <paramref name="times"/> set no new best, a best being more
    /// than 3% under every run before it. A ResNet-18 training step on two threads (ms): 1066, 643, 654, 518, 575, 553,
    /// then 455–485: settled after the sixth.
    /// </summary>
    private static bool Settled(List<double> times)
    {
        int lastBest = 0;
        double best = double.MaxValue;
        for (int i = 0; i < times.Count; i++)
            if (times[i] < 0.97 * best)
            {
                best = times[i];
                lastBest = i;
            }
        return times.Count - 1 - lastBest >= WarmSettledRuns;
    }

    private static double Median(List<double> xs)
    {
        xs.Sort();
        int n = xs.Count;
        return n % 2 == 1 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
    }
}
