using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Fovea.Cli;

/// <summary>
/// A small parser for one command's arguments: <c>--name value</c> options, <c>--flag</c> switches and
/// positional arguments. Anything left unread is an error, so a typo never passes silently.
/// </summary>
public sealed class Args
{
    private readonly string _command;
    private readonly List<string> _items;
    private readonly bool[] _used;

    /// <summary>Wraps the arguments that follow <paramref name="command"/>.</summary>
    public Args(string command, IEnumerable<string> args)
    {
        _command = command;
        _items = args.ToList();
        _used = new bool[_items.Count];
    }

    /// <summary>The value after <paramref name="names"/> (any spelling), or null when absent.</summary>
    public string? Option(params string[] names)
    {
        for (int i = 0; i < _items.Count; i++)
        {
            if (_used[i] || !names.Contains(_items[i])) continue;
            // "--out --epochs 3" forgot the folder; taking "--epochs" as the value would report the wrong mistake.
            if (i + 1 >= _items.Count || _used[i + 1] || IsOptionName(_items[i + 1]))
                throw new UsageException($"{_command}: {_items[i]} needs a value");
            _used[i] = _used[i + 1] = true;
            return _items[i + 1];
        }
        return null;
    }

    /// <summary>An integer option within [min, max].</summary>
    public int Int(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        string? v = Option(name);
        if (v is null) return fallback;
        if (!int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) || x < min || x > max)
            throw new UsageException($"{_command}: {name} must be an integer in [{min}, {max}], got '{v}'");
        return x;
    }

    /// <summary>A floating-point option within [min, max].</summary>
    public double Double(string name, double fallback, double min = double.MinValue, double max = double.MaxValue)
    {
        string? v = Option(name);
        if (v is null) return fallback;
        if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) || !(x >= min && x <= max))
            throw new UsageException($"{_command}: {name} must be a number in [{min}, {max}], got '{v}'");
        return x;
    }

    /// <summary>
    /// An option that names one of <paramref name="choices"/> (any letter case); returns the choice as listed there,
    /// or <paramref name="fallback"/> when the option is absent.
    /// </summary>
    [return: NotNullIfNotNull(nameof(fallback))]
    public string? Choice(string name, string? fallback, IReadOnlyCollection<string> choices)
    {
        string? v = Option(name);
        if (v is null) return fallback;
        return choices.FirstOrDefault(c => string.Equals(c, v, StringComparison.OrdinalIgnoreCase))
            ?? throw new UsageException($"{_command}: unknown {name.TrimStart('-')} '{v}' (choose {string.Join(", ", choices)})");
    }

    /// <summary>True when the switch is present.</summary>
    public bool Flag(params string[] names)
    {
        bool found = false;
        for (int i = 0; i < _items.Count; i++)
            if (!_used[i] && names.Contains(_items[i])) { _used[i] = true; found = true; }
        return found;
    }

    /// <summary>
    /// A switch that may take a value: null when absent, "" when given alone, else the value that follows it, taken
    /// only when each of its comma-separated parts is one of <paramref name="values"/> (so that a positional argument
    /// after the switch stays positional).
    /// </summary>
    public string? FlagOrValue(string name, IReadOnlyCollection<string> values)
    {
        for (int i = 0; i < _items.Count; i++)
        {
            if (_used[i] || _items[i] != name) continue;
            _used[i] = true;
            if (i + 1 < _items.Count && !_used[i + 1]
                && _items[i + 1].Split(',').All(part => values.Contains(part.Trim(), StringComparer.OrdinalIgnoreCase)))
            {
                _used[i + 1] = true;
                return _items[i + 1].ToLowerInvariant();
            }
            return "";
        }
        return null;
    }

    /// <summary>The remaining positional arguments (call after every option).</summary>
    public List<string> Positionals()
    {
        var result = new List<string>();
        for (int i = 0; i < _items.Count; i++)
        {
            if (_used[i]) continue;
            if (IsOptionName(_items[i]))
                throw new UsageException($"{_command}: unknown option '{_items[i]}' (run 'fovea help')");
            _used[i] = true;
            result.Add(_items[i]);
        }
        return result;
    }

    /// <summary>Exactly <paramref name="count"/> positionals named <paramref name="names"/>.</summary>
    public List<string> Positionals(int count, string names)
    {
        var p = Positionals();
        if (p.Count != count)
            throw new UsageException($"{_command}: expected {names}, got {(p.Count == 0 ? "nothing" : string.Join(" ", p))}");
        return p;
    }

    // "--name", but not "--" alone (which some tools read as "end of options").
    private static bool IsOptionName(string item) => item.Length > 2 && item.StartsWith("--", StringComparison.Ordinal);

    /// <summary>Fails on anything not yet read.</summary>
    public void Done()
    {
        var rest = Positionals();
        if (rest.Count > 0) throw new UsageException($"{_command}: unexpected argument '{rest[0]}'");
    }
}
