using System.Buffers.Binary;
using System.Text;

namespace Fovea.Fuzz;

/// <summary>
/// Token-level edits of a safetensors file's JSON header that keep the file framed (the 8-byte length is rewritten
/// and the header padded to 8 bytes again), so the loader gets past the JSON parser and meets the odd value: a
/// null or string in a shape, 1e10 as an offset, a duplicate key, a metadata size of 20000, and so on.
/// </summary>
public static class SafetensorsHeaderEdit
{
    /// <summary>JSON values put in place of a number, string or literal.</summary>
    public static IReadOnlyList<string> Values { get; } =
    [
        "null", "\"x\"", "1e10", "-1", "0", "1.5", "99999999999", "18446744073709551615", "1e400", "true", "[]", "{}",
        "[null, 3]", "[2147483647, 2147483647]", "\"F32\"", "\"I32\"", "\"BOOL\"", "\"F16\"", "\"\"", "\"20000\"", "\"-1\"",
        "\"99999999999\"", "\"0,1,99999999999\"", "\"[null]\"", "\"{}\"", "\"NaN\"",
    ];

    /// <summary>Numbers put in place of a run of digits inside a string (metadata sizes, escaped JSON state).</summary>
    public static IReadOnlyList<string> DigitReplacements { get; } =
        ["0", "-1", "2000", "20000", "99999999999", "2147483647", "4294967296", "1e10", "NaN", "x", "", "1,2"];

    /// <summary>Where the header ends (8 + its declared length), or the file's length when that is not plausible.</summary>
    public static int HeaderEnd(byte[] file) => TryHeaderEnd(file, out int end) ? end : file.Length;

    private static bool TryHeaderEnd(byte[] file, out int end)
    {
        end = file.Length;
        if (file.Length < 8) return false;
        ulong length = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (length > (ulong)(file.Length - 8)) return false;
        end = 8 + (int)length;
        return true;
    }

    /// <summary>Applies one edit; null when the file has no readable header (an earlier step broke it).</summary>
    public static byte[]? Apply(byte[] file, FuzzRandom rng, out string step)
    {
        step = "";
        if (!TryHeaderEnd(file, out int end)) return null;
        string header = Encoding.UTF8.GetString(file, 8, end - 8);
        var tokens = Tokens(header);
        if (tokens.Count == 0) return null;
        var values = tokens.Where(t => !t.IsKey).ToList();
        var keys = tokens.Where(t => t.IsKey).ToList();
        string edited;
        switch (rng.Next(5))
        {
            case 0 when values.Count > 0:
            case 1 when values.Count > 0:
            {
                var t = rng.Pick(values);
                string value = rng.Pick(Values);
                edited = Replace(header, t, value);
                step = $"header: {Show(header, t)} -> {value}";
                break;
            }
            case 2:
            {
                var strings = values.Where(t => header[t.Start] == '"' && header.AsSpan(t.Start, t.Length).IndexOfAnyInRange('0', '9') >= 0).ToList();
                if (strings.Count == 0) goto default;
                var t = rng.Pick(strings);
                var runs = DigitRuns(header, t);
                var (at, length) = rng.Pick(runs);
                string digits = rng.Pick(DigitReplacements);
                edited = string.Concat(header.AsSpan(0, at), digits, header.AsSpan(at + length));
                step = $"header: digits '{header.Substring(at, length)}' in {Show(header, t)} -> '{digits}'";
                break;
            }
            case 3 when keys.Count > 1:
            {
                var from = rng.Pick(keys);
                var to = rng.Pick(keys);
                edited = Replace(header, to, header.Substring(from.Start, from.Length));
                step = $"header: key {Show(header, to)} -> {Show(header, from)} (duplicate key)";
                break;
            }
            case 4 when values.Count > 1:
            {
                var a = rng.Pick(values);
                var b = rng.Pick(values);
                if (a.Start > b.Start) (a, b) = (b, a);
                if (a.Start == b.Start) goto default;
                edited = header[..a.Start] + header.Substring(b.Start, b.Length) + header[(a.Start + a.Length)..b.Start]
                    + header.Substring(a.Start, a.Length) + header[(b.Start + b.Length)..];
                step = $"header: swap {Show(header, a)} and {Show(header, b)}";
                break;
            }
            default:
            {
                var t = rng.Pick(tokens);
                edited = Replace(header, t, "");
                step = $"header: delete {Show(header, t)}";
                break;
            }
        }
        return Reframe(edited, file.AsSpan(end));
    }

    /// <summary>A safetensors file with <paramref name="header"/> (padded with spaces to 8 bytes) followed by <paramref name="data"/>.</summary>
    public static byte[] Reframe(string header, ReadOnlySpan<byte> data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        int padded = (json.Length + 7) / 8 * 8;
        var file = new byte[8 + padded + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)padded);
        json.CopyTo(file, 8);
        file.AsSpan(8 + json.Length, padded - json.Length).Fill((byte)' ');
        data.CopyTo(file.AsSpan(8 + padded));
        return file;
    }

    private readonly record struct Token(int Start, int Length, bool IsKey);

    /// <summary>The strings, numbers and literals of <paramref name="json"/>, keys marked (a string followed by ':').</summary>
    private static List<Token> Tokens(string json)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < json.Length)
        {
            char c = json[i];
            int start = i;
            if (c == '"')
            {
                i++;
                while (i < json.Length && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
                i = Math.Min(i + 1, json.Length);
                int j = i;
                while (j < json.Length && char.IsWhiteSpace(json[j])) j++;
                tokens.Add(new Token(start, i - start, j < json.Length && json[j] == ':'));
            }
            else if (c == '-' || char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c))
            {
                while (i < json.Length && (char.IsAsciiLetterOrDigit(json[i]) || json[i] is '-' or '+' or '.')) i++;
                tokens.Add(new Token(start, i - start, false));
            }
            else i++;
        }
        return tokens;
    }

    private static List<(int At, int Length)> DigitRuns(string json, Token t)
    {
        var runs = new List<(int, int)>();
        int end = t.Start + t.Length;
        for (int i = t.Start; i < end;)
        {
            if (!char.IsAsciiDigit(json[i])) { i++; continue; }
            int start = i;
            while (i < end && char.IsAsciiDigit(json[i])) i++;
            runs.Add((start, i - start));
        }
        return runs;
    }

    private static string Replace(string json, Token t, string with) =>
        string.Concat(json.AsSpan(0, t.Start), with, json.AsSpan(t.Start + t.Length));

    private static string Show(string json, Token t) =>
        t.Length <= 40 ? json.Substring(t.Start, t.Length) : json.Substring(t.Start, 37) + "...";
}
