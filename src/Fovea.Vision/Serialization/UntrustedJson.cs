using System.Buffers;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;

namespace Fovea.Vision.Serialization;

/// <summary>
/// Helpers for reading JSON from files that may be hostile (safetensors headers, checkpoint metadata): parse
/// errors, duplicate keys and values of the wrong kind become <see cref="InvalidDataException"/>s that name the
/// file and the field, and values from the file are quoted short and without control characters in messages.
/// </summary>
internal static class UntrustedJson
{
    /// <summary>Parses <paramref name="json"/>; <paramref name="what"/> (e.g. "metadata 'scheduler'") names it in errors.</summary>
    public static JsonDocument Parse(ReadOnlyMemory<byte> json, string path, string what)
    {
        // The parser checks UTF-8 only when a string is read, too late to say where; check it all first.
        if (!Utf8.IsValid(json.Span))
        {
            int offset = 0;
            while (Rune.DecodeFromUtf8(json.Span[offset..], out _, out int used) == OperationStatus.Done) offset += used;
            throw new InvalidDataException($"{path}: {what} is not valid UTF-8 (at byte {offset} of it)");
        }
        try
        {
            return JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: {what} is not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Parses a JSON string, see <see cref="Parse(ReadOnlyMemory{byte}, string, string)"/>.</summary>
    public static JsonDocument Parse(string json, string path, string what) => Parse(Encoding.UTF8.GetBytes(json), path, what);

    /// <summary>The properties of a JSON object, refusing a name that occurs twice (JSON leaves its meaning undefined).</summary>
    public static IEnumerable<(string Name, JsonElement Value)> Properties(JsonElement obj, string path, string what)
    {
        if (obj.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: {what}: expected an object, found {Describe(obj)}");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var p in obj.EnumerateObject())
        {
            if (!seen.Add(p.Name)) throw new InvalidDataException($"{path}: {what} has the key {Quote(p.Name)} twice");
            yield return (p.Name, p.Value);
        }
    }

    /// <summary>The elements of a JSON array.</summary>
    public static JsonElement.ArrayEnumerator Items(JsonElement array, string path, string what) =>
        array.ValueKind == JsonValueKind.Array ? array.EnumerateArray() : throw new InvalidDataException($"{path}: {what}: expected an array, found {Describe(array)}");

    /// <summary>A finite number.</summary>
    public static double Number(JsonElement value, string path, string what) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out double x) && double.IsFinite(x)
            ? x : throw new InvalidDataException($"{path}: {what}: expected a finite number, found {Describe(value)}");

    /// <summary>A whole number in [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long Integer(JsonElement value, long min, long max, string path, string what) =>
        value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out long x) && x >= min && x <= max
            ? x : throw new InvalidDataException($"{path}: {what}: expected a whole number from {min} to {max}, found {Describe(value)}");

    /// <summary>A JSON value for a message: its text when short, else its kind and length.</summary>
    public static string Describe(JsonElement e)
    {
        string text = e.GetRawText();
        return text.Length <= 40 ? Quote(text, quotes: false) : $"a {e.ValueKind.ToString().ToLowerInvariant()} of {text.Length} characters";
    }

    /// <summary>Text from a file for a message: quoted, control characters escaped, at most <paramref name="keep"/> characters kept.</summary>
    public static string Quote(string text, bool quotes = true, int keep = 80)
    {
        var sb = new StringBuilder(quotes ? "'" : "");
        foreach (char c in text.Length > keep ? text[..keep] : text)
            sb.Append(char.IsControl(c) ? $"\\u{(int)c:X4}" : c);
        if (text.Length > keep) sb.Append("...");
        return sb.Append(quotes ? "'" : "").ToString();
    }
}
