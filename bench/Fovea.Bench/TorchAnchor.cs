using System.Buffers.Binary;
using System.Text;

namespace Fovea.Bench;

/// <summary>
/// Makes TorchSharp loadable on Debian 12 and keeps its thread count in step with Fovea's.
/// <para>
/// TorchSharp-cpu 0.107.0's <c>libLibTorchSharp.so</c> was linked by GCC 13 and lists a version need
/// <c>GLIBCXX_3.4.32</c>, which Debian 12's libstdc++ (GCC 12) lacks. The only symbol bound to it is an
/// iostream marker that no relocation uses, so marking that one version need weak (VER_FLG_WEAK in the
/// ELF <c>.gnu.version_r</c> table) lets the loader accept the library. We patch the build output's copy
/// only (never the NuGet cache), at startup, before anything calls into TorchSharp.
/// </para>
/// </summary>
public static class TorchAnchor
{
    private const uint ShtGnuVerneed = 0x6FFFFFFE;
    private const ushort VerFlgWeak = 0x2;

    /// <summary>Patches every copy of libLibTorchSharp.so next to the bench; prints what it did.</summary>
    public static void PatchForDebian12()
    {
        string baseDir = AppContext.BaseDirectory;
        string[] candidates =
        [
            Path.Combine(baseDir, "runtimes", "linux-x64", "native", "libLibTorchSharp.so"),
            Path.Combine(baseDir, "libLibTorchSharp.so"),
        ];
        foreach (string path in candidates.Where(File.Exists))
        {
            int patched = MarkVersionNeedWeak(path, "GLIBCXX_3.4.32");
            if (patched > 0) Console.Error.WriteLine($"# patched {path}: GLIBCXX_3.4.32 need marked weak");
        }
    }

    /// <summary>
    /// Sets VER_FLG_WEAK on the version need named <paramref name="version"/> in an ELF64 little-endian file.
    /// Returns how many entries changed (0 when already weak or absent). Walks the section headers to the
    /// SHT_GNU_verneed section, then its Verneed / Vernaux chains, reading names from the linked string table.
    /// </summary>
    public static int MarkVersionNeedWeak(string path, string version)
    {
        byte[] data = File.ReadAllBytes(path);
        if (data.Length < 64 || data[0] != 0x7F || data[1] != (byte)'E' || data[2] != (byte)'L' || data[3] != (byte)'F' || data[4] != 2 || data[5] != 1)
            throw new InvalidDataException($"{path}: not an ELF64 little-endian file");
        var span = data.AsSpan();
        long shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(span[0x28..]);
        int shentsize = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3A..]);
        int shnum = BinaryPrimitives.ReadUInt16LittleEndian(span[0x3C..]);
        byte[] want = Encoding.ASCII.GetBytes(version);
        int patched = 0;

        for (int i = 0; i < shnum; i++)
        {
            var sh = span[(int)(shoff + (long)i * shentsize)..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(sh[4..]) != ShtGnuVerneed) continue;
            long off = (long)BinaryPrimitives.ReadUInt64LittleEndian(sh[24..]);
            int link = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[40..]);
            int count = (int)BinaryPrimitives.ReadUInt32LittleEndian(sh[44..]); // sh_info: number of Verneed entries
            var strSh = span[(int)(shoff + (long)link * shentsize)..];
            long strOff = (long)BinaryPrimitives.ReadUInt64LittleEndian(strSh[24..]);

            long vn = off;
            for (int v = 0; v < count; v++)
            {
                int vnCnt = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(vn + 2)..]);
                long vnAux = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(vn + 8)..]);
                long vnNext = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(vn + 12)..]);
                long va = vn + vnAux;
                for (int x = 0; x < vnCnt; x++)
                {
                    ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(span[(int)(va + 4)..]);
                    long name = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(va + 8)..]);
                    long vnaNext = BinaryPrimitives.ReadUInt32LittleEndian(span[(int)(va + 12)..]);
                    var str = span[(int)(strOff + name)..];
                    str = str[..str.IndexOf((byte)0)];
                    if (str.SequenceEqual(want) && (flags & VerFlgWeak) == 0)
                    {
                        BinaryPrimitives.WriteUInt16LittleEndian(span[(int)(va + 4)..], (ushort)(flags | VerFlgWeak));
                        patched++;
                    }
                    va += vnaNext;
                }
                vn += vnNext;
            }
        }
        if (patched > 0) File.WriteAllBytes(path, data);
        return patched;
    }

    /// <summary>Sets libtorch's intra-op thread count (kept in a separate method so TorchSharp loads only when used).</summary>
    public static void SetThreads(int threads)
    {
        TorchSharp.torch.set_num_threads(threads);
        int got = TorchSharp.torch.get_num_threads();
        if (got != threads) Console.Error.WriteLine($"# warning: libtorch runs {got} threads, asked for {threads}");
    }
}
