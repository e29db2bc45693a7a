namespace Fovea.Vision.Tests.Serialization;

/// <summary>Assertions shared by the tests that feed loaders generated hostile files.</summary>
internal static class HostileInput
{
    /// <summary>
    /// Bytes a refused file may cost. Counted on the calling thread (GC.GetAllocatedBytesForCurrentThread), since
    /// other test classes allocate on other threads at the same time; the loaders read on the caller's thread.
    /// </summary>
    public const long AllocationLimit = 64 << 20;

    /// <summary>
    /// Runs <paramref name="load"/>, asserts it throws an <see cref="InvalidDataException"/> whose message contains
    /// each of <paramref name="expected"/> (the file name, the entry, the field), and that it allocated at most
    /// <paramref name="allocationLimit"/> bytes; returns the exception.
    /// </summary>
    public static InvalidDataException Refused(Action load, IEnumerable<string> expected, long allocationLimit = AllocationLimit)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(load);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        foreach (var text in expected)
            Assert.True(e.Message.Contains(text, StringComparison.Ordinal), $"the message does not contain \"{text}\": {e.Message}");
        Assert.True(allocated <= allocationLimit, $"refusing the file allocated {allocated:N0} bytes (limit {allocationLimit:N0}): {e.Message}");
        return e;
    }

    /// <summary>
    /// Runs <paramref name="load"/> on a mutated file: it may succeed, or throw an <see cref="InvalidDataException"/>
    /// naming <paramref name="fileName"/>; any other exception fails with the mutation's description.
    /// </summary>
    public static void SucceedsOrRefuses(Action load, string fileName, string mutation)
    {
        try
        {
            load();
        }
        catch (InvalidDataException e)
        {
            Assert.True(e.Message.Contains(fileName, StringComparison.Ordinal), $"{mutation}: the message does not name the file: {e.Message}");
        }
        catch (Exception e)
        {
            Assert.Fail($"{mutation}: {e.GetType().Name} escaped the loader: {e.Message}\n{e.StackTrace}");
        }
    }
}

/// <summary>
/// Seeded random damage to a valid file, aimed mostly at its header (where sizes and names live): byte
/// overwrites with JSON-significant characters, bit flips, insertions and deletions (with or without fixing
/// the header length), truncation, and number edits.
/// </summary>
internal static class Mutations
{
    private static readonly byte[] JsonBytes = "[]{}\",:-0123456789.eE+nulltrue \\"u8.ToArray();

    /// <summary>A mutated copy of <paramref name="original"/> (a safetensors file whose header ends at <paramref name="headerEnd"/>) and what was done.</summary>
    public static (byte[] Bytes, string What) Apply(byte[] original, int headerEnd, Random rng)
    {
        var bytes = new List<byte>(original);
        var what = new List<string>();
        int edits = 1 + rng.Next(3);
        bool fixLength = rng.Next(2) == 0;
        int headerDelta = 0;
        for (int k = 0; k < edits; k++)
        {
            // Three quarters of the edits land in the JSON header, the rest anywhere.
            int limit = Math.Min(bytes.Count, rng.Next(4) == 0 ? bytes.Count : headerEnd + headerDelta);
            if (limit <= 8) break;
            int at = 8 + rng.Next(limit - 8);
            switch (rng.Next(6))
            {
                case 0:
                    bytes[at] = JsonBytes[rng.Next(JsonBytes.Length)];
                    what.Add($"byte {at} = '{(char)bytes[at]}'");
                    break;
                case 1:
                    bytes[at] ^= (byte)(1 << rng.Next(8));
                    what.Add($"bit flip at {at}");
                    break;
                case 2:
                    int count = 1 + rng.Next(4);
                    bytes.InsertRange(at, Enumerable.Range(0, count).Select(_ => JsonBytes[rng.Next(JsonBytes.Length)]));
                    if (at < headerEnd + headerDelta) headerDelta += count;
                    what.Add($"insert {count} at {at}");
                    break;
                case 3:
                    int remove = Math.Min(1 + rng.Next(8), bytes.Count - at);
                    bytes.RemoveRange(at, remove);
                    if (at < headerEnd + headerDelta) headerDelta -= Math.Min(remove, headerEnd + headerDelta - at);
                    what.Add($"delete {remove} at {at}");
                    break;
                case 4:
                    // Make a number in the header much larger: a digit followed by more digits.
                    var digits = "99999999999"u8.ToArray()[..(1 + rng.Next(11))];
                    bytes.InsertRange(at, digits);
                    if (at < headerEnd + headerDelta) headerDelta += digits.Length;
                    what.Add($"digits at {at}");
                    break;
                default:
                    int keep = rng.Next(bytes.Count);
                    bytes.RemoveRange(keep, bytes.Count - keep);
                    what.Add($"truncate to {keep}");
                    break;
            }
        }
        var result = bytes.ToArray();
        if (fixLength && headerDelta != 0 && result.Length >= 8)
        {
            System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)Math.Max(0, headerEnd - 8 + headerDelta));
            what.Add("header length fixed");
        }
        return (result, string.Join(", ", what));
    }
}
