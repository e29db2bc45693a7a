namespace Fovea.NN;

/// <summary>An ordered map from dotted names to tensors: the contents of a checkpoint.</summary>
public sealed class StateDict : IEnumerable<KeyValuePair<string, Tensor>>
{
    private readonly List<string> _order = [];
    private readonly Dictionary<string, Tensor> _map = [];

    /// <summary>Adds or replaces an entry (a new key goes last).</summary>
    public void Add(string key, Tensor value)
    {
        if (!_map.ContainsKey(key)) _order.Add(key);
        _map[key] = value;
    }

    /// <summary>The tensor stored under <paramref name="key"/>.</summary>
    public Tensor this[string key]
    {
        get => _map.TryGetValue(key, out var t) ? t : throw new KeyNotFoundException($"state dict has no key '{key}'");
        set => Add(key, value);
    }

    /// <summary>Keys in order.</summary>
    public IReadOnlyList<string> Keys => _order;

    /// <summary>Number of entries.</summary>
    public int Count => _order.Count;

    /// <summary>True when <paramref name="key"/> is present.</summary>
    public bool ContainsKey(string key) => _map.ContainsKey(key);

    /// <summary>Looks up <paramref name="key"/>.</summary>
    public bool TryGetValue(string key, out Tensor value) => _map.TryGetValue(key, out value!);

    /// <summary>
    /// The key of the first entry holding NaN or infinity, or null when every value is finite: weights that diverged
    /// in training must not be saved, evaluated or resumed as if they were a model.
    /// </summary>
    public string? FirstNonFinite() => _order.FirstOrDefault(k => _map[k].DType.IsFloating() && Anomaly.HasNonFinite(_map[k]));

    /// <inheritdoc/>
    public IEnumerator<KeyValuePair<string, Tensor>> GetEnumerator() => _order.Select(k => new KeyValuePair<string, Tensor>(k, _map[k])).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
