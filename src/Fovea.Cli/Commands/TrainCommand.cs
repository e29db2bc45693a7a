using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Fovea.Onnx;
using Fovea.Training;
using Fovea.Vision.Models;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea train</c>: trains a zoo model on Fashion-MNIST with a live progress line.</summary>
public static class TrainCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("train",
        "[--model NAME] [--data DIR] [--dataset fashion-mnist|mnist|cifar10|folder] [--image-size N] [--channels 1|3] [--workers N] [--cache] [--strict] [--download] [--epochs N] [--batch-size B] [--optimizer sgd|adam|adamw] [--lr X] [--momentum M] [--weight-decay W] [--scheduler none|step|cosine|onecycle] [--seed S] [--out DIR] [--resume CKPT] [--freeze PREFIX] [--init-from CKPT] [--metrics FILE] [--augment [crop|pca|crop,pca]] [--pretrained resnet18 [--unfreeze [--body-lr-scale X]]] [--classes 0-4] [--limit N] [--max-batches N] [--loss cross-entropy|hinge|mse] [--hidden 256,128] [--val-split F] [--early-stop N] [--monitor val_loss|val_accuracy|train_loss|train_accuracy[:min|:max]] [--keep-best] [--clip-grad-norm X] [--clip-grad-value X] [--distributed [--global-batch G]] (data-parallel: under mpirun -np N)",
        $"Train a classifier on Fashion-MNIST, MNIST, CIFAR-10 or a folder of images, one sub-folder per class (default: {TrainOptions.DefaultModel} on Fashion-MNIST, Adam 3e-3 one-cycle, 5 epochs); writes checkpoint, metrics and curves", (a, o) =>
        {
            var options = Parse(a, out var distributed);
            var stop = new StopRequest();
            // Ctrl-C and SIGTERM (what Docker, Kubernetes and batch schedulers send) both finish the batch and save;
            // a second one of either ends the process at once.
            ConsoleCancelEventHandler handler = (_, e) => e.Cancel = stop.Request("Ctrl-C", 0);
            Console.CancelKeyPress += handler;
            using var sigterm = TryRegister(PosixSignal.SIGTERM, c => c.Cancel = stop.Request("SIGTERM", StopRequest.SigtermExitCode));
            try
            {
                return distributed is null ? Run(options, o, stop.Token, stop) : RunDistributed(options, distributed.Value, o, stop);
            }
            finally
            {
                Console.CancelKeyPress -= handler;
            }
        });

    /// <summary>Which signal asked the run to stop, and the exit code that reports it.</summary>
    public sealed class StopRequest
    {
        /// <summary>
        /// The exit code after SIGTERM, once the checkpoint is saved: 128 + 15, what a shell reports for a process ended
        /// by SIGTERM, so a scheduler sees an unfinished job (to restart with <c>--resume</c>). Ctrl-C exits with 0.
        /// </summary>
        public const int SigtermExitCode = 143;

        private readonly CancellationTokenSource _cts = new();

        /// <summary>Cancelled by the first request.</summary>
        public CancellationToken Token => _cts.Token;

        /// <summary>The first signal received ("Ctrl-C", "SIGTERM"), or null.</summary>
        public string? Signal { get; private set; }

        /// <summary>The exit code of a run stopped by <see cref="Signal"/>.</summary>
        public int ExitCode { get; private set; }

        /// <summary>Records the first request and cancels; false for any later one, whose default action then ends the process.</summary>
        public bool Request(string signal, int exitCode)
        {
            lock (_cts)
            {
                if (Signal is not null) return false;
                Signal = signal;
                ExitCode = exitCode;
            }
            _cts.Cancel();
            return true;
        }
    }

    private static PosixSignalRegistration? TryRegister(PosixSignal signal, Action<PosixSignalContext> handler)
    {
        try
        {
            return PosixSignalRegistration.Create(signal, handler);
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Reads the options of <c>fovea train</c>; unset ones keep <see cref="TrainOptions"/>' defaults, or with <c>--resume</c> the checkpoint's.</summary>
    public static TrainOptions Parse(Args a) => Parse(a, out _);

    /// <summary>
    /// Reads the options of <c>fovea train</c>; <paramref name="distributed"/> is set with <c>--distributed</c> and holds
    /// the <c>--global-batch</c> asked for (0: <c>--batch-size</c> per process).
    /// </summary>
    public static TrainOptions Parse(Args a, out int? distributed)
    {
        distributed = a.Flag("--distributed") ? 0 : null;
        string? globalBatch = a.Option("--global-batch");
        if (globalBatch is not null)
        {
            if (distributed is null) throw new UsageException("train: --global-batch needs --distributed");
            distributed = PositiveInt("--global-batch", globalBatch);
        }
        string? resume = PathArgs.InputFile(a.Option("--resume"));
        // When resuming, whatever is not named is the checkpoint's: a named value that differs is a contradiction.
        var d = resume is null ? new TrainOptions() : Trainer.ResumeOptions(resume);
        string? classes = a.Option("--classes");
        string? limit = a.Option("--limit"), maxBatches = a.Option("--max-batches");
        string? optimizerArg = a.Choice("--optimizer", null, Optimizers), lrArg = a.Option("--lr");
        string? hidden = a.Option("--hidden"), earlyStop = a.Option("--early-stop"), monitor = a.Option("--monitor");
        string? clipNorm = a.Option("--clip-grad-norm"), clipValue = a.Option("--clip-grad-value");
        string? valSplit = a.Option("--val-split");
        string? pretrained = a.Choice("--pretrained", null, TrainOptions.PretrainedNetworks);
        bool unfreeze = a.Flag("--unfreeze");
        string? bodyLrScale = a.Option("--body-lr-scale");
        // --augment alone (or "crop"): random crop and flip; "pca": fancy PCA colour shifts; "crop,pca": both.
        string? augment = a.FlagOrValue("--augment", AugmentKinds);
        if (pretrained is not null && a.Option("--model") is { } model)
            throw new UsageException($"train: --pretrained {pretrained} brings its own model; drop --model {model}");
        if (unfreeze && pretrained is null && d.Pretrained is null) throw new UsageException("train: --unfreeze fine-tunes a pretrained body: it needs --pretrained resnet18");
        if (bodyLrScale is not null && !unfreeze && !d.Unfreeze) throw new UsageException("train: --body-lr-scale sets the body's rate when fine-tuning: it needs --unfreeze");
        // The one-cycle schedule belongs to the default recipe; naming an optimizer or a rate asks for that plain recipe.
        string defaultScheduler = resume is null && optimizerArg is null && lrArg is null ? TrainOptions.DefaultRecipeScheduler : d.Scheduler;
        var options = new TrainOptions
        {
            Resume = resume,
            Model = a.Choice("--model", null, ModelZoo.Names),
            Dataset = a.Choice("--dataset", d.Dataset, TrainOptions.Datasets),
            ImageSize = a.Option("--image-size") is { } imageSize ? PositiveInt("--image-size", imageSize) : d.ImageSize,
            Channels = a.Option("--channels") is { } channels ? ParseChannels(channels) : d.Channels,
            Workers = a.Option("--workers") is { } workers ? PositiveInt("--workers", workers) : d.Workers,
            Cache = a.Flag("--cache"),
            Strict = a.Flag("--strict"),
            DataDir = a.Option("--data"),
            Download = a.Flag("--download"),
            Epochs = a.Int("--epochs", resume is null ? d.Epochs : 0, 1, 100_000),
            BatchSize = a.Int("--batch-size", d.BatchSize, 1, 1_000_000),
            Optimizer = optimizerArg ?? d.Optimizer,
            Lr = lrArg is null ? d.Lr : ParseLr(lrArg),
            Momentum = a.Double("--momentum", d.Momentum, 0, 0.999999),
            WeightDecay = a.Double("--weight-decay", d.WeightDecay, 0, 10),
            Scheduler = a.Choice("--scheduler", defaultScheduler, Schedulers),
            Seed = a.Int("--seed", -1, 0) is int seed and >= 0 ? (ulong)seed : d.Seed,
            OutDir = a.Option("--out") ?? d.OutDir,
            Freeze = a.Option("--freeze"),
            InitFrom = a.Option("--init-from"),
            Metrics = a.Option("--metrics"),
            Augment = augment is "" or "crop" || (augment?.Split(',').Contains("crop") ?? false) || (augment is null && d.Augment),
            PcaColor = (augment?.Split(',').Contains("pca") ?? false) || (augment is null && d.PcaColor),
            Pretrained = pretrained ?? d.Pretrained,
            Unfreeze = unfreeze || d.Unfreeze,
            BodyLrScale = bodyLrScale is null ? d.BodyLrScale : PositiveDouble("--body-lr-scale", bodyLrScale),
            Classes = classes is null ? null : ParseClasses(classes),
            TrainLimit = limit is null ? null : PositiveInt("--limit", limit),
            MaxBatches = maxBatches is null ? null : PositiveInt("--max-batches", maxBatches),
            Loss = a.Choice("--loss", d.Loss, TrainOptions.Losses),
            Hidden = hidden is null ? d.Hidden : ParseHidden(hidden),
            ValSplit = valSplit is null ? d.ValSplit : ParseFraction("--val-split", valSplit),
            EarlyStop = earlyStop is null ? d.EarlyStop : PositiveInt("--early-stop", earlyStop),
            Monitor = monitor is null ? d.Monitor : ParseMonitor(monitor),
            KeepBest = a.Flag("--keep-best") || d.KeepBest,
            ClipGradNorm = clipNorm is null ? null : PositiveDouble("--clip-grad-norm", clipNorm),
            ClipGradValue = clipValue is null ? null : PositiveDouble("--clip-grad-value", clipValue),
        };
        a.Done();
        if (resume is not null && options.InitFrom is not null) throw new UsageException("train: --resume and --init-from exclude each other");
        // After every usage check, so that a typo in an option is reported before a problem with a file.
        PathArgs.InputFile(options.Resume);
        PathArgs.InputFile(options.InitFrom);
        PathArgs.InputFolder(options.DataDir);
        PathArgs.OutputFolder(options.OutDir);
        PathArgs.OutputFile(options.Metrics);
        return options;
    }

    // The names TrainOptions.Validate accepts, checked here so that a wrong one is a usage error (exit 2).
    private static readonly string[] Optimizers = ["sgd", "adam", "adamw"];
    private static readonly string[] Schedulers = ["none", "step", "cosine", "onecycle"];
    private static readonly string[] AugmentKinds = ["crop", "pca"];

    private static int[] ParseClasses(string text)
    {
        try
        {
            return TrainOptions.ParseClasses(text);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"train: --{e.Message}");
        }
    }

    private static int ParseChannels(string text) => text switch
    {
        "1" => 1,
        "3" => 3,
        _ => throw new UsageException($"train: --channels must be 1 (gray) or 3 (RGB), got '{text}'"),
    };

    private static int[] ParseHidden(string text)
    {
        var widths = text.Split(',', StringSplitOptions.TrimEntries);
        var result = new int[widths.Length];
        for (int i = 0; i < widths.Length; i++)
            if (!int.TryParse(widths[i], NumberStyles.None, CultureInfo.InvariantCulture, out result[i]) || result[i] < 1 || result[i] > 1 << 20)
                throw new UsageException($"train: --hidden takes layer widths separated by commas, such as 256,128, got '{text}'");
        return result;
    }

    private static string ParseMonitor(string text)
    {
        try
        {
            MonitoredMetric.Parse(text);
            return text.Trim().ToLowerInvariant();
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"train: --monitor {e.Message}");
        }
    }

    private static double ParseFraction(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && f > 0 && f < 1
            ? f : throw new UsageException($"train: {name} must be a fraction between 0 and 1 (exclusive), got '{text}'");

    private static double PositiveDouble(string name, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && x > 0 && double.IsFinite(x)
            ? x : throw new UsageException($"train: {name} must be a positive number, got '{text}'");

    private static double ParseLr(string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double lr) && lr > 0 && lr <= 100
            ? lr : throw new UsageException($"train: --lr must be a number in (0, 100], got '{text}'");

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) && x > 0 ? x
            : throw new UsageException($"train: {name} must be a positive integer, got '{value}'");

    /// <summary>
    /// Trains with <paramref name="options"/>; progress and results go to <paramref name="o"/>. Returns the exit code:
    /// 0, or after an interruption the code of the signal recorded in <paramref name="stop"/> (0 without one).
    /// </summary>
    public static int Run(TrainOptions options, TextWriter o, CancellationToken cancel = default, StopRequest? stop = null,
        Fovea.Training.DataParallelism? parallel = null)
    {
        // The pretrained networks and .onnx weights for --init-from come with Fovea.Onnx.
        PretrainedModels.RegisterForTraining();
        var trainer = Trainer.Create(options, parallel: parallel);
        var opt = trainer.Options;
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model {opt.Model}{(opt.Hidden is { } h ? $" {string.Join("-", h)}" : "")} ({trainer.Model.ParameterCount():N0} parameters, {trainer.Model.ParameterCount(trainableOnly: true):N0} trainable), {trainer.ClassLabels.Length} classes, {trainer.TrainCount:N0} train / {(trainer.ValidationName == "val" ? $"{trainer.ValidationCount:N0} val" : "")}{(trainer.ValidationName == "val" && trainer.HasTest ? " / " : "")}{(trainer.ValidationName == "test" || trainer.HasTest ? $"{trainer.TestCount:N0} test" : "")} images"));
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{opt.Optimizer} lr {opt.Lr}{(opt.Optimizer == "sgd" ? $" momentum {opt.Momentum}" : "")}{(opt.WeightDecay > 0 ? $" weight decay {opt.WeightDecay}" : "")}, scheduler {opt.Scheduler}, batch {opt.BatchSize} ({trainer.BatchesPerEpoch} batches per epoch), {opt.Epochs} epochs, seed {opt.Seed}{(opt.Augment ? ", augmented (crop, flip)" : "")}{(opt.PcaColor ? ", PCA colour augmentation" : "")}, loss {opt.Loss}{Extras(opt)}, {Threading.MaxDegreeOfParallelism} threads"));
        foreach (var note in trainer.Notes) o.WriteLine(note);

        TrainResult result;
        using (var progress = TrainProgress.For(o, opt.BatchSize))
        {
            // Skipped images are reported on a decoding thread: queued, and printed between batches on this one.
            var skippedLines = new ConcurrentQueue<string>();
            trainer.ImageSkipped += s => skippedLines.Enqueue($"skipped {s.Path}: {s.Reason}");
            void Flush()
            {
                while (skippedLines.TryDequeue(out var line)) progress.WriteLine(line);
            }
            result = trainer.Run(new Relay(p => { Flush(); progress.Report(p); }), m =>
            {
                Flush();
                progress.WriteLine(EpochLine(m, trainer.Epochs, trainer.ValidationName));
            }, cancel);
            Flush();
        }
        if (trainer.SkippedImages.Count is int skipped and > 0)
            o.WriteLine($"{skipped} image{(skipped == 1 ? "" : "s")} could not be decoded and {(skipped == 1 ? "was" : "were")} skipped (--strict makes that an error)");

        if (result.Cancelled)
        {
            int code = stop?.ExitCode ?? 0;
            string by = stop?.Signal is { } signal ? $" by {signal}" : "";
            o.WriteLine($"interrupted{by}: finished the batch and saved {result.CheckpointPath}; continue with: fovea train --resume {result.CheckpointPath} (exit code {code})");
            return code;
        }
        var last = result.History.Count > 0 ? result.History[^1] : null;
        if (result.StoppedEarly && last is not null)
            o.WriteLine($"early stop: {trainer.Loop.Monitor} has not improved for {opt.EarlyStop} epochs (best: epoch {result.BestEpoch})");
        double seconds = result.History.Sum(m => m.Seconds);
        if (last is not null && !trainer.HasTest && trainer.ValidationName == "val")
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: val accuracy {100 * last.TestAccuracy:0.00}% after {last.Epoch} epochs ({seconds:0.0} s)"));
        else if (last is not null && !trainer.HasTest)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"done: test accuracy {100 * last.TestAccuracy:0.00}% after {last.Epoch} epochs ({seconds:0.0} s)"));
        else if (last is not null)
        {
            var test = trainer.EvaluateTest();
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"done: val accuracy {100 * last.TestAccuracy:0.00}%, test accuracy {100 * test.Accuracy:0.00}% ({test.Count:N0} images, model after epoch {last.Epoch}) after {last.Epoch} epochs ({seconds:0.0} s)"));
        }
        o.WriteLine($"wrote {result.CheckpointPath}{(result.BestCheckpointPath is { } best ? $", {best} (epoch {result.BestEpoch})" : "")}, {result.MetricsPath}, {result.CurvePath}");
        return 0;
    }

    /// <summary>
    /// <c>mpirun -np N fovea train ... --distributed</c>: joins the MPI job and trains data-parallel. Each process gets
    /// <c>--batch-size</c> images per step (or <c>--global-batch</c> / N), its shard of every epoch, and the averaged
    /// gradients; rank 0 prints and writes the files. Not started by mpirun: one line, exit 2.
    /// </summary>
    private static int RunDistributed(TrainOptions options, int globalBatch, TextWriter o, StopRequest stop)
    {
        // The ranks must take the same decisions: a monitor of the training figures (each rank's own shard) could stop
        // one rank and not another.
        if ((options.EarlyStop is not null || options.KeepBest) && (options.Monitor ?? TrainOptions.DefaultMonitor).StartsWith("train", StringComparison.Ordinal))
            throw new UsageException("train: --distributed monitors the validation figures (every process computes the same); --monitor train_* would differ between processes");
        var group = MpiJob.Join();
        int perProcess = options.BatchSize;
        if (globalBatch > 0)
        {
            if (globalBatch % group.Size != 0)
                throw new UsageException($"train: --global-batch {globalBatch} does not divide evenly over {group.Size} processes");
            perProcess = globalBatch / group.Size;
        }
        // A failure on one rank must not finalise MPI while the others wait in a collective: the process exits without
        // it, and mpirun then ends the whole job. Only a run that ends normally disposes the group.
        var agreed = new Fovea.Distributed.StopAgreement(group, stop.Token);
        var parallel = Fovea.Distributed.DataParallel.Over(group, agreed);
        var mine = options with { BatchSize = perProcess, Processes = group.Size };
        var output = parallel.IsMain ? o : TextWriter.Null;
        if (parallel.IsMain)
            o.WriteLine($"data-parallel over {group.Size} processes (Open MPI, {group.LibraryName}): batch {perProcess} per process, global batch {perProcess * group.Size}");
        int code = Run(mine, output, agreed.Token, stop, parallel);
        group.Dispose();
        return code;
    }

    /// <summary>The run's options beyond the default recipe, for the header line.</summary>
    private static string Extras(TrainOptions opt)
    {
        var parts = new List<string>();
        if (opt.ValSplit is double f) parts.Add(string.Create(CultureInfo.InvariantCulture, $"val split {f}"));
        if (opt.EarlyStop is int n) parts.Add($"early stop after {n} epochs without improvement of {MonitoredMetric.Parse(opt.Monitor ?? TrainOptions.DefaultMonitor)}");
        if (opt.KeepBest) parts.Add($"keeping the best epoch by {MonitoredMetric.Parse(opt.Monitor ?? TrainOptions.DefaultMonitor)}");
        if (opt.ClipGradNorm is double c) parts.Add(string.Create(CultureInfo.InvariantCulture, $"gradient norm clipped to {c}"));
        if (opt.ClipGradValue is double v) parts.Add(string.Create(CultureInfo.InvariantCulture, $"gradients clamped to ±{v}"));
        return parts.Count == 0 ? "" : ", " + string.Join(", ", parts);
    }

    /// <summary>Passes each batch's progress to an action.</summary>
    private sealed class Relay(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }

    private static string EpochLine(EpochMetrics m, int epochs, string validation) => string.Create(CultureInfo.InvariantCulture,
        $"epoch {m.Epoch}/{epochs}: train loss {m.TrainLoss:0.0000} acc {100 * m.TrainAccuracy:0.00}% | {validation} loss {m.TestLoss:0.0000} acc {100 * m.TestAccuracy:0.00}% | {m.Seconds:0.0} s, {m.ImagesPerSecond:0} img/s");
}
