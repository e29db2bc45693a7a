using System.Buffers.Binary;

namespace Fovea.Fuzz;

/// <summary>One mutated input: its bytes, the seed it came from, and the steps that made it (for the failure report).</summary>
public sealed record Mutant(byte[] Data, int SeedIndex, IReadOnlyList<string> Steps);

/// <summary>
/// Makes mutants of a target's valid seed files: bit flips, interesting bytes and 16/32-bit integers in either byte
/// order, small arithmetic, truncation, appended bytes, duplicated or deleted chunks, splices of two seeds, and, for
/// safetensors files, edits of the JSON header's tokens. Every choice comes from the <see cref="FuzzRandom"/> passed
/// in, so a run seed and an input index always give the same mutant.
/// </summary>
public sealed class Mutator
{
    /// <summary>Bytes that decoders treat specially: zero, all ones, the signed limits, and one.</summary>
    public static IReadOnlyList<byte> InterestingBytes { get; } = [0x00, 0xFF, 0x7F, 0x80, 0x01, 0xFE];

    /// <summary>
    /// Integers written over header fields: limits of 16 and 32 bits, and sizes (20000, 30000, 65535, ...) that are
    /// plausible for one field but make a tiny file declare gigabytes.
    /// </summary>
    public static IReadOnlyList<uint> InterestingInts { get; } =
        [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 20000, 30000, 65536, 100000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE];

    private readonly IReadOnlyList<byte[]> _seeds;
    private readonly Func<byte[], int>? _hotLength;
    private readonly bool _safetensors;
    private readonly int _maxLength;

    /// <param name="seeds">Valid files of the target's format (at least one).</param>
    /// <param name="hotLength">
    /// The length of the file's header, where most point mutations go (a flip in pixel data rarely reaches new
    /// code); null for the whole file.
    /// </param>
    /// <param name="safetensorsHeader">Whether the files are safetensors, whose JSON header gets token-level edits.</param>
    public Mutator(IReadOnlyList<byte[]> seeds, Func<byte[], int>? hotLength = null, bool safetensorsHeader = false)
    {
        if (seeds.Count == 0) throw new ArgumentException("a mutator needs at least one seed", nameof(seeds));
        _seeds = seeds;
        _hotLength = hotLength;
        _safetensors = safetensorsHeader;
        // Growth by appends and duplicated chunks is capped so a long run does not drift into ever bigger files.
        _maxLength = 2 * seeds.Max(s => s.Length) + 4096;
    }

    /// <summary>Mutates one seed with one to four stacked steps.</summary>
    public Mutant Mutate(FuzzRandom rng)
    {
        int seedIndex = rng.Next(_seeds.Count);
        var data = (byte[])_seeds[seedIndex].Clone();
        var steps = new List<string>();
        int count = rng.Next(1, 5);
        for (int i = 0; i < count; i++)
        {
            if (_safetensors && rng.Chance(0.5))
            {
                var edited = SafetensorsHeaderEdit.Apply(data, rng, out string step);
                if (edited is not null)
                {
                    data = edited;
                    steps.Add(step);
                    continue;
                }
            }
            data = Step(data, rng, steps);
            if (data.Length > _maxLength)
            {
                Array.Resize(ref data, _maxLength);
                steps.Add($"cap length at {_maxLength}");
            }
        }
        return new Mutant(data, seedIndex, steps);
    }

    private byte[] Step(byte[] data, FuzzRandom rng, List<string> steps)
    {
        if (data.Length == 0)
        {
            steps.Add("append 1-16 random bytes to an empty file");
            return RandomBytes(rng, rng.Next(1, 17));
        }
        switch (rng.Next(12))
        {
            case 0:
            case 1:
            {
                int at = Offset(data, rng, 1);
                int bit = rng.Next(8);
                data[at] ^= (byte)(1 << bit);
                steps.Add($"flip bit {bit} of byte {at}");
                return data;
            }
            case 2:
            {
                int at = Offset(data, rng, 1);
                data[at] = rng.Pick(InterestingBytes);
                steps.Add($"byte {at} = 0x{data[at]:X2}");
                return data;
            }
            case 3:
            case 4:
            {
                int width = rng.Chance(0.5) ? 2 : 4;
                if (data.Length < width) goto case 2;
                int at = Offset(data, rng, width);
                uint value = rng.Pick(InterestingInts);
                bool bigEndian = rng.Chance(0.5);
                if (width == 2)
                {
                    if (bigEndian) BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(at), (ushort)value);
                    else BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(at), (ushort)value);
                }
                else if (bigEndian) BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(at), value);
                else BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(at), value);
                steps.Add($"u{width * 8}{(bigEndian ? "be" : "le")} at byte {at} = {(width == 2 ? (ushort)value : value)}");
                return data;
            }
            case 5:
            {
                int at = Offset(data, rng, 1);
                int delta = rng.Next(1, 36) * (rng.Chance(0.5) ? 1 : -1);
                data[at] = (byte)(data[at] + delta);
                steps.Add($"byte {at} += {delta}");
                return data;
            }
            case 6:
            {
                int at = rng.Next(data.Length);
                data[at] = (byte)rng.Next(256);
                steps.Add($"byte {at} = random 0x{data[at]:X2}");
                return data;
            }
            case 7:
            {
                int length = rng.Next(data.Length);
                steps.Add($"truncate {data.Length} -> {length} bytes");
                return data[..length];
            }
            case 8:
            {
                byte[] tail = rng.Chance(0.5) ? RandomBytes(rng, rng.Next(1, 65)) : Chunk(data, rng);
                steps.Add($"append {tail.Length} bytes");
                return [.. data, .. tail];
            }
            case 9:
            {
                byte[] chunk = Chunk(data, rng);
                int at = rng.Next(data.Length + 1);
                steps.Add($"insert a copy of {chunk.Length} bytes at byte {at}");
                return [.. data.AsSpan(0, at), .. chunk, .. data.AsSpan(at)];
            }
            case 10:
            {
                int at = rng.Next(data.Length);
                int length = Math.Min(data.Length - at, rng.Next(1, 65));
                steps.Add($"delete {length} bytes at byte {at}");
                return [.. data.AsSpan(0, at), .. data.AsSpan(at + length)];
            }
            default:
            {
                int otherIndex = rng.Next(_seeds.Count);
                byte[] other = _seeds[otherIndex];
                int cut = rng.Next(data.Length + 1), from = rng.Next(other.Length + 1);
                steps.Add($"splice: bytes [0, {cut}) + seed {otherIndex} from byte {from}");
                return [.. data.AsSpan(0, cut), .. other.AsSpan(from)];
            }
        }
    }

    /// <summary>An offset for a <paramref name="width"/>-byte write: in the header three times out of four.</summary>
    private int Offset(byte[] data, FuzzRandom rng, int width)
    {
        int limit = data.Length - width + 1;
        if (_hotLength is not null && rng.Chance(0.75))
            limit = Math.Clamp(_hotLength(data) - width + 1, 1, limit);
        return rng.Next(limit);
    }

    private static byte[] Chunk(byte[] data, FuzzRandom rng)
    {
        int at = rng.Next(data.Length);
        int length = Math.Min(data.Length - at, rng.Next(1, 257));
        return data.AsSpan(at, length).ToArray();
    }

    private static byte[] RandomBytes(FuzzRandom rng, int count)
    {
        var bytes = new byte[count];
        for (int i = 0; i < count; i++) bytes[i] = (byte)rng.Next(256);
        return bytes;
    }
}
