using System.Globalization;
using System.Text.Json;
using Fovea.NN;
using Fovea.Optim;

namespace Fovea.Vision.Serialization;

/// <summary>
/// A training checkpoint: the model's state dict (under its own dotted names, so other safetensors readers
/// see plain weights), the optimizer's state (under <c>__optimizer__.</c>), the scheduler's state, and string
/// metadata such as the epoch and the model name. Stored as one safetensors file, written atomically.
/// </summary>
public sealed class Checkpoint
{
    private const string OptimizerPrefix = "__optimizer__.";
    private const string FormatKey = "format";
    private const string FormatValue = "fovea-checkpoint/1";

    /// <summary>Model parameters and buffers.</summary>
    public required StateDict Model { get; init; }

    /// <summary>Optimizer state, if saved.</summary>
    public OptimizerState? Optimizer { get; init; }

    /// <summary>Learning-rate scheduler state, if saved.</summary>
    public IReadOnlyDictionary<string, double>? Scheduler { get; init; }

    /// <summary>Free-form metadata (epoch, model, dataset, seed, ...).</summary>
    public Dictionary<string, string> Metadata { get; init; } = [];

    /// <summary>The file the checkpoint was read from (named in errors about its contents); null when built in memory.</summary>
    public string? SourcePath { get; init; }

    /// <summary>
    /// An integer metadata value, or <paramref name="fallback"/> when the key is absent. A value that is not a whole
    /// number in [<paramref name="min"/>, <paramref name="max"/>] throws an <see cref="InvalidDataException"/> naming
    /// the file and the key: metadata comes from a file and is not trusted.
    /// </summary>
    public int GetInt(string key, int fallback = 0, int min = int.MinValue, int max = int.MaxValue)
    {
        if (!Metadata.TryGetValue(key, out var v)) return fallback;
        if (int.TryParse(v, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int x) && x >= min && x <= max) return x;
        throw new InvalidDataException($"{SourcePath ?? "checkpoint"}: metadata '{key}' is {UntrustedJson.Quote(v)}, expected a whole number from {min} to {max}");
    }

    /// <summary>Writes the checkpoint to <paramref name="path"/> (temporary file, then rename).</summary>
    public void Save(string path)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>(Model);
        var meta = new Dictionary<string, string>(Metadata) { [FormatKey] = FormatValue };
        if (Optimizer is { } opt)
        {
            meta["optimizer"] = opt.Optimizer;
            meta["optimizer.param_groups"] = JsonSerializer.Serialize(opt.ParamGroups, CheckpointJsonContext.Default.ListParamGroupState);
            foreach (var (index, state) in opt.State.OrderBy(kv => kv.Key))
                foreach (var (name, t) in state)
                    tensors.Add(new($"{OptimizerPrefix}{index}.{name}", t));
        }
        if (Scheduler is { } sched) meta["scheduler"] = JsonSerializer.Serialize(sched, CheckpointJsonContext.Default.IReadOnlyDictionaryStringDouble);
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>
    /// Reads and validates a checkpoint written by <see cref="Save"/>. Every failure, including malformed optimizer
    /// or scheduler metadata, is an <see cref="InvalidDataException"/> naming the file and the key.
    /// </summary>
    public static Checkpoint Load(string path)
    {
        var (tensors, meta) = SafeTensors.Load(path);
        if (!meta.TryGetValue(FormatKey, out var format) || format != FormatValue)
            throw new InvalidDataException($"{path}: not a Fovea checkpoint (metadata '{FormatKey}' is {(format is null ? "missing" : UntrustedJson.Quote(format))}, expected '{FormatValue}')");
        var model = new StateDict();
        OptimizerState? optimizer = meta.TryGetValue("optimizer", out var optName)
            ? ParseOptimizer(optName, meta.GetValueOrDefault("optimizer.param_groups") ?? "[]", path)
            : null;
        foreach (var (name, t) in tensors)
        {
            if (!name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                model.Add(name, t);
                continue;
            }
            string rest = name[OptimizerPrefix.Length..];
            int dot = rest.IndexOf('.');
            if (optimizer is null || dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out int index))
                throw new InvalidDataException($"{path}: malformed optimizer entry {UntrustedJson.Quote(name)}");
            if (!optimizer.State.TryGetValue(index, out var state)) optimizer.State[index] = state = [];
            state[rest[(dot + 1)..]] = t;
        }
        var scheduler = meta.TryGetValue("scheduler", out var schedJson) ? ParseScheduler(schedJson, path) : null;
        foreach (var k in new[] { FormatKey, "optimizer", "optimizer.param_groups", "scheduler" }) meta.Remove(k);
        return new Checkpoint { Model = model, Optimizer = optimizer, Scheduler = scheduler, Metadata = meta, SourcePath = path };
    }

    /// <summary>The optimizer's parameter groups: an array of { "options": { name: number }, "params": [index, ...] }.</summary>
    private static OptimizerState ParseOptimizer(string name, string groupsJson, string path)
    {
        const string Key = "metadata 'optimizer.param_groups'";
        var optimizer = new OptimizerState { Optimizer = name };
        using var doc = UntrustedJson.Parse(groupsJson, path, Key);
        int g = 0;
        foreach (var group in UntrustedJson.Items(doc.RootElement, path, Key))
        {
            string where = $"{Key}[{g}]";
            JsonElement? options = null, indices = null;
            foreach (var (field, value) in UntrustedJson.Properties(group, path, where))
            {
                if (field == "options") options = value;
                else if (field == "params") indices = value;
            }
            if (options is null || indices is null) throw new InvalidDataException($"{path}: {where} needs 'options' and 'params'");
            var parsed = new Dictionary<string, double>();
            foreach (var (option, value) in UntrustedJson.Properties(options.Value, path, $"{where}.options"))
                parsed[option] = UntrustedJson.Number(value, path, $"{where}.options.{UntrustedJson.Quote(option, quotes: false)}");
            var ps = new List<int>();
            foreach (var index in UntrustedJson.Items(indices.Value, path, $"{where}.params"))
                ps.Add((int)UntrustedJson.Integer(index, 0, int.MaxValue, path, $"{where}.params[{ps.Count}]"));
            optimizer.ParamGroups.Add(new ParamGroupState(parsed, [.. ps]));
            g++;
        }
        return optimizer;
    }

    /// <summary>The scheduler's state: an object of finite numbers.</summary>
    private static Dictionary<string, double> ParseScheduler(string json, string path)
    {
        const string Key = "metadata 'scheduler'";
        using var doc = UntrustedJson.Parse(json, path, Key);
        var state = new Dictionary<string, double>();
        foreach (var (name, value) in UntrustedJson.Properties(doc.RootElement, path, Key))
            state[name] = UntrustedJson.Number(value, path, $"{Key}.{UntrustedJson.Quote(name, quotes: false)}");
        return state;
    }
}
