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

    /// <summary>An integer metadata value, or <paramref name="fallback"/>.</summary>
    public int GetInt(string key, int fallback = 0) =>
        Metadata.TryGetValue(key, out var v) && int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) ? x : fallback;

    /// <summary>Writes the checkpoint to <paramref name="path"/> (temporary file, then rename).</summary>
    public void Save(string path)
    {
        var tensors = new List<KeyValuePair<string, Tensor>>(Model);
        var meta = new Dictionary<string, string>(Metadata) { [FormatKey] = FormatValue };
        if (Optimizer is { } opt)
        {
            meta["optimizer"] = opt.Optimizer;
            meta["optimizer.param_groups"] = JsonSerializer.Serialize(opt.ParamGroups.Select(g => new { options = g.Options, @params = g.Params }));
            foreach (var (index, state) in opt.State.OrderBy(kv => kv.Key))
                foreach (var (name, t) in state)
                    tensors.Add(new($"{OptimizerPrefix}{index}.{name}", t));
        }
        if (Scheduler is { } sched) meta["scheduler"] = JsonSerializer.Serialize(sched);
        SafeTensors.Save(path, tensors, meta);
    }

    /// <summary>Reads and validates a checkpoint written by <see cref="Save"/>.</summary>
    public static Checkpoint Load(string path)
    {
        var (tensors, meta) = SafeTensors.Load(path);
        if (!meta.TryGetValue(FormatKey, out var format) || format != FormatValue)
            throw new InvalidDataException($"{path}: not a Fovea checkpoint (metadata '{FormatKey}' is {(format is null ? "missing" : $"'{format}'")}, expected '{FormatValue}')");
        var model = new StateDict();
        OptimizerState? optimizer = null;
        if (meta.TryGetValue("optimizer", out var optName))
        {
            optimizer = new OptimizerState { Optimizer = optName };
            try
            {
                using var doc = JsonDocument.Parse(meta.GetValueOrDefault("optimizer.param_groups") ?? "[]");
                foreach (var g in doc.RootElement.EnumerateArray())
                {
                    var options = g.GetProperty("options").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
                    var ps = g.GetProperty("params").EnumerateArray().Select(e => e.GetInt32()).ToArray();
                    optimizer.ParamGroups.Add(new ParamGroupState(options, ps));
                }
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException or FormatException)
            {
                throw new InvalidDataException($"{path}: the optimizer parameter groups in the metadata are malformed ({e.Message})", e);
            }
        }
        foreach (var (name, t) in tensors)
        {
            if (!name.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
            {
                model.Add(name, t);
                continue;
            }
            string rest = name[OptimizerPrefix.Length..];
            int dot = rest.IndexOf('.');
            if (optimizer is null || dot <= 0 || !int.TryParse(rest[..dot], NumberStyles.Integer, CultureInfo.InvariantCulture, out int index))
                throw new InvalidDataException($"{path}: malformed optimizer entry '{name}'");
            if (!optimizer.State.TryGetValue(index, out var state)) optimizer.State[index] = state = [];
            state[rest[(dot + 1)..]] = t;
        }
        Dictionary<string, double>? scheduler = null;
        if (meta.TryGetValue("scheduler", out var schedJson))
        {
            try { scheduler = JsonSerializer.Deserialize<Dictionary<string, double>>(schedJson); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: the scheduler state in the metadata is malformed ({e.Message})", e); }
        }
        foreach (var k in new[] { FormatKey, "optimizer", "optimizer.param_groups", "scheduler" }) meta.Remove(k);
        return new Checkpoint { Model = model, Optimizer = optimizer, Scheduler = scheduler, Metadata = meta };
    }
}
