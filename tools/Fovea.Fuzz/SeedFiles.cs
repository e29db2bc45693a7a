using System.IO.Compression;
using StbImageWriteSharp;

namespace Fovea.Fuzz;

/// <summary>
/// Small valid files of each format, made in code at run time so the fuzzer needs nothing downloaded: pictures with
/// gradients and noise (so every decoder path, not just flat runs, is exercised) written by the encoder Fovea's
/// tests use, plus the few variants that encoder cannot write (uncompressed TGA, GIF), written by hand.
/// </summary>
public static class SeedFiles
{
    /// <summary>Interleaved 8-bit pixels: a diagonal gradient per channel with seeded noise on top.</summary>
    public static byte[] Picture(int width, int height, int channels, ulong seed)
    {
        var rng = new FuzzRandom(seed);
        var pixels = new byte[width * height * channels];
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < channels; c++)
                    pixels[(y * width + x) * channels + c] = (byte)((x * 255 / Math.Max(1, width - 1) + y * 97 + c * 61 + rng.Next(48)) & 0xFF);
        return pixels;
    }

    /// <summary>A file written by StbImageWriteSharp: "png", "jpg" (baseline, quality 90), "bmp" or "tga" (run-length encoded).</summary>
    public static byte[] Encode(string format, int width, int height, int channels, ulong seed)
    {
        byte[] pixels = Picture(width, height, channels, seed);
        var components = (ColorComponents)channels;
        using var stream = new MemoryStream();
        var writer = new ImageWriter();
        switch (format)
        {
            case "png": writer.WritePng(pixels, width, height, components, stream); break;
            case "jpg": writer.WriteJpg(pixels, width, height, components, stream, 90); break;
            case "bmp": writer.WriteBmp(pixels, width, height, components, stream); break;
            case "tga": writer.WriteTga(pixels, width, height, components, stream); break;
            default: throw new ArgumentException($"unknown seed format '{format}'", nameof(format));
        }
        return stream.ToArray();
    }

    /// <summary>An uncompressed TGA (type 2 for 3 channels, type 3 for gray), top-left origin.</summary>
    public static byte[] UncompressedTga(int width, int height, int channels, ulong seed)
    {
        if (channels is not (1 or 3)) throw new ArgumentException("uncompressed TGA seeds are gray or RGB", nameof(channels));
        byte[] pixels = Picture(width, height, channels, seed);
        var file = new byte[18 + pixels.Length];
        file[2] = (byte)(channels == 1 ? 3 : 2);
        BitConverter.TryWriteBytes(file.AsSpan(12), (ushort)width);
        BitConverter.TryWriteBytes(file.AsSpan(14), (ushort)height);
        file[16] = (byte)(8 * channels);
        file[17] = 0x20;
        for (int i = 0; i < pixels.Length; i += channels)
            for (int c = 0; c < channels; c++)
                file[18 + i + c] = pixels[i + channels - 1 - c]; // TGA stores BGR
        return file;
    }

    /// <summary>
    /// A GIF89a with a 4-colour palette. The LZW stream sends a clear code before every pair of pixels, so the code
    /// width stays at 3 bits and no dictionary is needed: valid for every decoder, and a few dozen lines.
    /// </summary>
    public static byte[] Gif(int width, int height, ulong seed, bool withControlBlock)
    {
        var rng = new FuzzRandom(seed);
        using var gif = new MemoryStream();
        void U16(int v) { gif.WriteByte((byte)v); gif.WriteByte((byte)(v >> 8)); }
        gif.Write("GIF89a"u8);
        U16(width);
        U16(height);
        gif.Write([0xF1, 0, 0]); // global palette of 2^(1+1) colours, 8-bit colour resolution
        gif.Write([0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255]);
        if (withControlBlock) gif.Write([0x21, 0xF9, 4, 0x01, 10, 0, 3, 0]); // graphic control: colour 3 transparent
        gif.WriteByte(0x2C);
        U16(0);
        U16(0);
        U16(width);
        U16(height);
        gif.WriteByte(0);
        const int minCodeSize = 2, clear = 4, end = 5, codeBits = 3;
        gif.WriteByte(minCodeSize);
        var codes = new List<int>();
        for (int i = 0; i < width * height; i++)
        {
            if (i % 2 == 0) codes.Add(clear);
            codes.Add(rng.Next(4));
        }
        codes.Add(end);
        var packed = new List<byte>();
        int buffer = 0, bits = 0;
        foreach (int code in codes)
        {
            buffer |= code << bits;
            bits += codeBits;
            while (bits >= 8) { packed.Add((byte)buffer); buffer >>= 8; bits -= 8; }
        }
        if (bits > 0) packed.Add((byte)buffer);
        for (int i = 0; i < packed.Count; i += 255)
        {
            int n = Math.Min(255, packed.Count - i);
            gif.WriteByte((byte)n);
            gif.Write(packed.GetRange(i, n).ToArray());
        }
        gif.WriteByte(0);
        gif.WriteByte(0x3B);
        return gif.ToArray();
    }

    /// <summary>An IDX file of unsigned bytes with the given dims and seeded contents below <paramref name="valueBound"/>.</summary>
    public static byte[] Idx(int[] shape, int valueBound, ulong seed)
    {
        var rng = new FuzzRandom(seed);
        int count = shape.Aggregate(1, (a, d) => a * d);
        var file = new byte[4 + 4 * shape.Length + count];
        file[2] = 0x08;
        file[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++) System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4 + 4 * i), shape[i]);
        for (int i = 0; i < count; i++) file[4 + 4 * shape.Length + i] = (byte)rng.Next(valueBound);
        return file;
    }

    /// <summary><paramref name="data"/> compressed as a gzip stream.</summary>
    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.Optimal)) gz.Write(data);
        return output.ToArray();
    }

    /// <summary>The repository's root (the folder holding Fovea.sln) above the working folder or the program, or null.</summary>
    public static string? RepositoryRoot()
    {
        foreach (string start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) return dir.FullName;
        return null;
    }

    /// <summary>Committed files under tests/Fovea.Vision.Tests/Data matching <paramref name="pattern"/> that pass <paramref name="keep"/>.</summary>
    public static IEnumerable<byte[]> CommittedTestData(string pattern, Func<byte[], bool> keep)
    {
        string? root = RepositoryRoot();
        string data = root is null ? "" : Path.Combine(root, "tests", "Fovea.Vision.Tests", "Data");
        if (!Directory.Exists(data)) yield break;
        foreach (string file in Directory.EnumerateFiles(data, pattern, SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            byte[] bytes = File.ReadAllBytes(file);
            if (keep(bytes)) yield return bytes;
        }
    }

    /// <summary>Whether a JPEG is progressive: walking its marker segments, the frame header is SOF2 (FF C2).</summary>
    public static bool IsProgressiveJpeg(byte[] file)
    {
        if (file.Length < 4 || file[0] != 0xFF || file[1] != 0xD8) return false;
        for (int pos = 2; pos + 4 <= file.Length && file[pos] == 0xFF;)
        {
            byte marker = file[pos + 1];
            if (marker == 0xC2) return true;
            if (marker is 0xC0 or 0xC1 or 0xDA) return false;
            pos += 2 + (file[pos + 2] << 8 | file[pos + 3]);
        }
        return false;
    }
}
