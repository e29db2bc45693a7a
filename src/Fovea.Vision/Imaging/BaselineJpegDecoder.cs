using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Fovea.Vision.Imaging;

/// <summary>
/// A one-pass decoder for the plainest JPEGs: baseline or extended sequential Huffman (SOF0/SOF1), one scan holding
/// every component, restart intervals or not, gray (any sampling) or three components whose chroma is full size, halved
/// across, or halved both ways (4:4:4, 4:2:2, 4:2:0), ending in its end-of-image marker right after the scan. It
/// reads the file once, without the separate structure walk (<see cref="JpegFileCheck"/>) and without the general
/// decoder's setup and buffers, which is most of the time a small image (a 28x28 training image) costs.
/// <para>
/// Its output is StbImageSharp's, byte for byte: the same Huffman tables (<see cref="JpegHuffmanTable"/>, shared with
/// the walk), stb_image's integer IDCT (jidctint-style, 12-bit fixed point, its rounding and clamping), its
/// "fancy" chroma upsampling (triangle filter, 3:1 weights) and its fixed-point YCbCr to RGB conversion.
/// </para>
/// <para>
/// It is strict in the other direction: it returns null, and the caller takes the general path (walk, then
/// StbImageSharp), for anything outside that subset and for anything the walk or StbImageSharp would refuse or treat
/// specially: a bad code, data cut short or running into a marker, a run past the end of a block, anything but an
/// RSTn marker right after a restart interval's data, a DC value or
/// product outside 16 bits, a table with 256 symbols, bytes between the scan and the end-of-image marker, an Adobe
/// segment, a missing end-of-image marker, an image above the pixel cap, or more 8x8 blocks than four per byte of the
/// file (every block takes at least two bits, so a small file cannot make it allocate much). So what it returns is
/// exactly what the general path returns, and every file it declines still gets the general path's checks and
/// messages. Every loop consumes input or counts blocks, so it always ends.
/// </para>
/// </summary>
internal sealed class BaselineJpegDecoder
{
    /// <summary>Natural (row-major) position of the k-th coefficient in zig-zag order (JPEG figure A.6).</summary>
    private static ReadOnlySpan<byte> Dezigzag =>
    [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
        35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];

    private readonly byte[] _data;
    private readonly int _length;
    private readonly JpegHuffmanTable?[] _dcTables = new JpegHuffmanTable?[4];
    private readonly JpegHuffmanTable?[] _acTables = new JpegHuffmanTable?[4];
    /// <summary>The quantisation tables in zig-zag order, as the file holds them (the order coefficients are decoded in).</summary>
    private readonly ushort[][] _quant = new ushort[4][];
    /// <summary>The frame's components in frame order (Y, Cb, Cr or R, G, B), and in the scan's order.</summary>
    private Component[]? _components, _order;
    private int _width, _height, _hMax = 1, _vMax = 1, _mcusX, _mcusY, _restartInterval;
    private bool _adobe;

    /// <summary>Bits not yet used, left-aligned; <c>_count</c> of them are valid.</summary>
    private ulong _buffer;
    private int _pos, _count;

    private BaselineJpegDecoder(byte[] data, int length) => (_data, _length) = (data, length);

    private sealed class Component(int id, int h, int v, int quant)
    {
        public readonly int Id = id, H = h, V = v, Quant = quant;
        public JpegHuffmanTable? Dc, Ac;
        public int DcPrediction;
        /// <summary>Samples of the component (ceil(width·H / Hmax) x ceil(height·V / Vmax)).</summary>
        public int Width, Height;
        /// <summary>Where its decoded samples start in the sample buffer, and the row stride (whole MCUs).</summary>
        public int Offset, Stride;
    }

    /// <summary>
    /// The image of the JPEG in <paramref name="data"/>[0, <paramref name="length"/>) as planar floats (k/255 from
    /// <paramref name="level"/>), or null when the file is not one this decoder takes (the caller then uses the
    /// general path). Only <see cref="ImageChannels.Source"/>, and <see cref="ImageChannels.Gray"/> for gray files.
    /// With <paramref name="toGray"/> a colour file comes out as one plane, the <see cref="Grayscale.ToGray"/> of the RGB
    /// planes it would give otherwise (what a model with one input channel takes), made without those planes.
    /// </summary>
    public static ImagePlanes? TryDecode(byte[] data, int length, ImageChannels channels, long maxPixels, ReadOnlySpan<float> level, bool toGray = false)
    {
        if (length < 4 || data[0] != 0xFF || data[1] != 0xD8 || channels is not (ImageChannels.Source or ImageChannels.Gray)) return null;
        var decoder = new BaselineJpegDecoder(data, length);
        byte[]? samples = null;
        try
        {
            if (!decoder.Headers(maxPixels, out int scanAt)) return null;
            var comps = decoder._components!;
            if (channels == ImageChannels.Gray && comps.Length != 1) return null;
            int total = 0;
            foreach (var c in comps)
            {
                c.Offset = total;
                total += c.Stride * decoder._mcusY * c.V * 8;
            }
            samples = ArrayPool<byte>.Shared.Rent(total);
            if (!decoder.Scan(scanAt, samples)) return null;
            return decoder.Output(samples, level, toGray);
        }
        finally
        {
            if (samples is not null) ArrayPool<byte>.Shared.Return(samples);
        }
    }

    /// <summary>
    /// Reads the segments up to the start of scan: quantisation and Huffman tables, the frame, application data and
    /// comments. False for anything else or anything malformed. <paramref name="scanAt"/>: the scan header's body.
    /// </summary>
    private bool Headers(long maxPixels, out int scanAt)
    {
        scanAt = 0;
        int pos = 2;
        while (true)
        {
            if (pos + 4 > _length || _data[pos] != 0xFF) return false;
            int marker = _data[pos + 1];
            int segmentLength = BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(pos + 2));
            if (segmentLength < 2 || pos + 2 + segmentLength > _length) return false;
            var body = _data.AsSpan(pos + 4, segmentLength - 2);
            if (marker == 0xDA)
            {
                scanAt = pos + 4;
                return _components is not null && ScanHeader(body);
            }
            if (marker == 0xEE) _adobe = true;
            bool ok = marker switch
            {
                0xC0 or 0xC1 => Frame(body, maxPixels),
                0xC4 => HuffmanTables(body),
                0xDB => QuantTables(body),
                0xDD => body.Length == 2 && RestartInterval(BinaryPrimitives.ReadUInt16BigEndian(body)),
                >= 0xE0 and <= 0xEF or 0xFE => true,
                _ => false,
            };
            if (!ok) return false;
            pos += 2 + segmentLength;
        }
    }

    private bool RestartInterval(int interval)
    {
        _restartInterval = interval;
        return true;
    }

    private bool Frame(ReadOnlySpan<byte> s, long maxPixels)
    {
        if (_components is not null || s.Length < 6 || s[0] != 8) return false;
        _height = BinaryPrimitives.ReadUInt16BigEndian(s[1..]);
        _width = BinaryPrimitives.ReadUInt16BigEndian(s[3..]);
        int count = s[5];
        if (_width == 0 || _height == 0 || count is not (1 or 3) || s.Length != 6 + 3 * count || (long)_width * _height > maxPixels) return false;
        var comps = new Component[count];
        for (int i = 0; i < count; i++)
        {
            var c = comps[i] = new Component(s[6 + 3 * i], s[7 + 3 * i] >> 4, s[7 + 3 * i] & 15, s[8 + 3 * i]);
            if (c.H is < 1 or > 4 || c.V is < 1 or > 4 || c.Quant > 3) return false;
            _hMax = Math.Max(_hMax, c.H);
            _vMax = Math.Max(_vMax, c.V);
        }
        if (count == 3)
        {
            // Luma at the finest sampling and both chroma planes at 1x1: 4:4:4, 4:2:2 (2x1), 4:2:0 (2x2) or 1x2.
            if (comps[0].H != _hMax || comps[0].V != _vMax || _hMax > 2 || _vMax > 2) return false;
            for (int i = 1; i < 3; i++)
                if (comps[i].H != 1 || comps[i].V != 1) return false;
            if (comps[0].Id == comps[1].Id || comps[0].Id == comps[2].Id || comps[1].Id == comps[2].Id) return false;
        }
        _mcusX = (_width + 8 * _hMax - 1) / (8 * _hMax);
        _mcusY = (_height + 8 * _vMax - 1) / (8 * _vMax);
        long blocks = 0;
        foreach (var c in comps)
        {
            if (_hMax % c.H != 0 || _vMax % c.V != 0) return false;
            c.Width = (_width * c.H + _hMax - 1) / _hMax;
            c.Height = (_height * c.V + _vMax - 1) / _vMax;
            c.Stride = _mcusX * c.H * 8;
            blocks += (long)_mcusX * c.H * _mcusY * c.V;
        }
        // Every block takes at least two bits (a DC code and an end-of-block code), so a file that declares more
        // blocks than four per byte is cut short; the general path says so without this decoder allocating for it.
        if (blocks > 4L * _length) return false;
        _components = comps;
        return true;
    }

    private bool HuffmanTables(ReadOnlySpan<byte> s)
    {
        while (s.Length > 0)
        {
            int tableClass = s[0] >> 4, id = s[0] & 15;
            if (tableClass > 1 || id > 3 || s.Length < 17) return false;
            var counts = s.Slice(1, 16);
            int total = 0;
            foreach (byte n in counts) total += n;
            // 256 symbols: stb_image's 9-bit lookup cannot name the 256th, so it may decode differently.
            if (total > 255 || s.Length < 17 + total) return false;
            var table = CachedTable(s[..(17 + total)]);
            if (table is null) return false;
            (tableClass == 0 ? _dcTables : _acTables)[id] = table;
            s = s[(17 + total)..];
        }
        return true;
    }

    /// <summary>
    /// The tables of the last few distinct table definitions this thread decoded, with their bytes: the files of one
    /// dataset nearly always carry the same tables, so they are built once (a table never changes after it is built).
    /// </summary>
    [ThreadStatic] private static (byte[] Bytes, JpegHuffmanTable Table)[]? t_tables;

    /// <summary>The table of a definition (its 16 counts and its symbols, after the class/id byte); null when malformed.</summary>
    private static JpegHuffmanTable? CachedTable(ReadOnlySpan<byte> definition)
    {
        var body = definition[1..];
        var cache = t_tables ??= new (byte[], JpegHuffmanTable)[8];
        foreach (var (bytes, table) in cache)
            if (bytes is not null && body.SequenceEqual(bytes)) return table;
        var built = JpegHuffmanTable.Build(body[..16], body[16..]);
        if (built is null) return null;
        // Newest first; the oldest entry drops out.
        Array.Copy(cache, 0, cache, 1, cache.Length - 1);
        cache[0] = (body.ToArray(), built);
        return built;
    }

    private bool QuantTables(ReadOnlySpan<byte> s)
    {
        while (s.Length > 0)
        {
            int wide = s[0] >> 4, id = s[0] & 15, size = 1 + (wide == 1 ? 128 : 64);
            if (wide > 1 || id > 3 || s.Length < size) return false;
            var q = _quant[id] = new ushort[64];
            for (int i = 0; i < 64; i++)
                q[i] = wide == 1 ? BinaryPrimitives.ReadUInt16BigEndian(s[(1 + 2 * i)..]) : s[1 + i];
            s = s[size..];
        }
        return true;
    }

    /// <summary>The scan must hold every component once, in any order, with sequential parameters.</summary>
    private bool ScanHeader(ReadOnlySpan<byte> s)
    {
        var comps = _components!;
        if (_adobe && comps.Length == 3) return false; // the colour transform flag changes stb_image's conversion
        int count = s.Length > 0 ? s[0] : 0;
        if (count != comps.Length || s.Length != 4 + 2 * count) return false;
        var order = new Component[count];
        for (int i = 0; i < count; i++)
        {
            int id = s[1 + 2 * i], tables = s[2 + 2 * i];
            Component? c = null;
            foreach (var x in comps)
                if (x.Id == id)
                {
                    c = x;
                    break;
                }
            if (c is null || Array.IndexOf(order, c) >= 0 || _quant[c.Quant] is null) return false;
            if (tables >> 4 > 3 || (tables & 15) > 3) return false;
            c.Dc = _dcTables[tables >> 4];
            c.Ac = _acTables[tables & 15];
            if (c.Dc is null || c.Ac is null) return false;
            order[i] = c;
        }
        if (s[1 + 2 * count] != 0 || s[3 + 2 * count] != 0) return false; // Ss = 0, Ah = Al = 0 (Se is ignored, as both readers do)
        _order = order;
        return true;
    }

    /// <summary>Decodes every MCU into <paramref name="samples"/>; then the end-of-image marker must follow at once.</summary>
    private bool Scan(int scanAt, byte[] samples)
    {
        var comps = _order!;
        _pos = scanAt + (BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(scanAt - 2)) - 2);
        Span<short> block = stackalloc short[64];
        Span<int> work = stackalloc int[64];
        if (comps.Length == 1)
        {
            // A one-component scan covers the component's own blocks, not whole MCUs (JPEG A.2.2).
            var c = comps[0];
            int bx = (c.Width + 7) / 8, by = (c.Height + 7) / 8;
            for (int y = 0; y < by; y++)
                for (int x = 0; x < bx; x++)
                {
                    if (!Restart(y * bx + x) || !Block(c, block)) return false;
                    Idct(block, work, samples.AsSpan(c.Offset + y * 8 * c.Stride + x * 8), c.Stride);
                }
        }
        else
        {
            for (int my = 0; my < _mcusY; my++)
                for (int mx = 0; mx < _mcusX; mx++)
                {
                    if (!Restart(my * _mcusX + mx)) return false;
                    foreach (var c in comps)
                        for (int y = 0; y < c.V; y++)
                            for (int x = 0; x < c.H; x++)
                            {
                                if (!Block(c, block)) return false;
                                Idct(block, work, samples.AsSpan(c.Offset + ((my * c.V + y) * 8) * c.Stride + (mx * c.H + x) * 8), c.Stride);
                            }
                }
        }
        // Only padding bits may remain, and the end-of-image marker must be the next bytes.
        if (_count >= 8) return false;
        return _pos + 1 < _length && _data[_pos] == 0xFF && _data[_pos + 1] == 0xD9;
    }

    /// <summary>
    /// Before MCU <paramref name="mcu"/>: at a restart boundary only the last byte's padding bits may be left, and an
    /// RSTn marker must follow at once; then the bit buffer and the DC predictions start again (JPEG F.2.1.3.1).
    /// </summary>
    private bool Restart(int mcu)
    {
        if (_restartInterval == 0 || mcu == 0 || mcu % _restartInterval != 0) return true;
        if (_count >= 8 || _pos + 1 >= _length || _data[_pos] != 0xFF || _data[_pos + 1] is < 0xD0 or > 0xD7) return false;
        _pos += 2;
        _buffer = 0;
        _count = 0;
        foreach (var c in _components!) c.DcPrediction = 0;
        return true;
    }

    /// <summary>
    /// One 8x8 block's coefficients, dequantised into natural order (stb_image's decode_block). The bit reader's state
    /// is kept in locals while the block is read (written back at the end), so it stays in registers.
    /// </summary>
    private bool Block(Component c, Span<short> block)
    {
        var q = _quant[c.Quant]!;
        byte[] data = _data;
        int length = _length, pos = _pos, count = _count;
        ulong buffer = _buffer;
        // The DC difference: its size category, then that many bits.
        if (count < 16) Refill(data, length, ref pos, ref buffer, ref count);
        var (t, codeLength) = c.Dc!.Lookup((int)(buffer >> 48));
        if (t < 0 || codeLength > count || t > 15) return false;
        buffer <<= codeLength;
        count -= codeLength;
        int diff = 0;
        if (t != 0)
        {
            if (count < t) Refill(data, length, ref pos, ref buffer, ref count);
            if (count < t) return false;
            diff = Extend((int)(buffer >> (64 - t)), t);
            buffer <<= t;
            count -= t;
        }
        int dc = c.DcPrediction + diff;
        c.DcPrediction = dc;
        // Inside 16 bits both ways stb_image's overflow checks pass; outside, the general path decides.
        int product = dc * q[0];
        if (dc is < short.MinValue or > short.MaxValue || q[0] > short.MaxValue || product is < short.MinValue or > short.MaxValue) return false;
        block.Clear();
        block[0] = (short)product;
        var ac = c.Ac!;
        var fastAc = ac.FastAc;
        for (int k = 1; k < 64;)
        {
            // A short code with its coefficient bits: one lookup (the same value the long way gives).
            if (count < 16) Refill(data, length, ref pos, ref buffer, ref count);
            int fast = fastAc[(int)(buffer >> (64 - JpegHuffmanTable.FastAcBits))];
            if (fast != 0)
            {
                int used = fast & 15;
                k += (fast >> 4) & 15;
                if (used > count || k > 63) return false;
                buffer <<= used;
                count -= used;
                block[Dezigzag[k]] = (short)((fast >> 8) * q[k]);
                k++;
                continue;
            }
            var (rs, rsLength) = ac.Lookup((int)(buffer >> 48));
            if (rs < 0 || rsLength > count) return false;
            buffer <<= rsLength;
            count -= rsLength;
            int run = rs >> 4, size = rs & 15;
            if (size == 0)
            {
                if (run != 15) break; // end of block
                k += 16;
                if (k > 64) return false;
                continue;
            }
            k += run;
            if (k > 63) return false;
            if (count < size) Refill(data, length, ref pos, ref buffer, ref count);
            if (count < size) return false;
            int raw = (int)(buffer >> (64 - size));
            buffer <<= size;
            count -= size;
            block[Dezigzag[k]] = (short)(Extend(raw, size) * q[k]);
            k++;
        }
        (_buffer, _count, _pos) = (buffer, count, pos);
        return true;
    }

    /// <summary>JPEG F.2.2.1 EXTEND: a raw value of <paramref name="size"/> bits to its signed difference.</summary>
    private static int Extend(int raw, int size) => raw < 1 << (size - 1) ? raw - (1 << size) + 1 : raw;

    /// <summary>
    /// Whole data bytes into the bit buffer (left-aligned, <paramref name="count"/> bits valid) until it holds more than
    /// 56 bits, undoing 0xFF 0x00 stuffing; stops before a marker or the end (as the walk does). Eight bytes with no
    /// 0xFF among them go in at once: the whole bytes that fit are counted, and the bits of the next byte that also land
    /// in the buffer are that byte's own, so the byte-by-byte path, or a later refill, puts the same bits there again.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Refill(byte[] data, int length, ref int pos, ref ulong buffer, ref int count)
    {
        if (pos + 8 <= length)
        {
            ulong word = BinaryPrimitives.ReadUInt64BigEndian(data.AsSpan(pos, 8));
            // ~word has a zero byte exactly where word has 0xFF (the usual has-a-zero-byte test on ~word).
            if (((~word - 0x0101010101010101UL) & word & 0x8080808080808080UL) == 0)
            {
                int take = (64 - count) >> 3;
                buffer |= word >> count;
                pos += take;
                count += take << 3;
                return;
            }
        }
        RefillBytes(data, length, ref pos, ref buffer, ref count);
    }

    /// <summary><see cref="Refill"/> one byte at a time, for stuffed bytes, markers and the end of the data.</summary>
    private static void RefillBytes(byte[] data, int length, ref int pos, ref ulong buffer, ref int count)
    {
        while (count <= 56 && pos < length)
        {
            int b = data[pos];
            if (b == 0xFF)
            {
                if (pos + 1 >= length || data[pos + 1] != 0x00) return;
                pos++;
            }
            pos++;
            buffer |= (ulong)b << (56 - count);
            count += 8;
        }
    }

    // stb_image's IDCT constants: round(x·4096) as stbi__f2f computes them.
    private const int C0_541 = (int)(0.5411961f * 4096 + 0.5), C1_847 = (int)(-1.847759065f * 4096 + 0.5), C0_765 = (int)(0.765366865f * 4096 + 0.5);
    private const int C1_175 = (int)(1.175875602f * 4096 + 0.5), C0_298 = (int)(0.298631336f * 4096 + 0.5), C2_053 = (int)(2.053119869f * 4096 + 0.5);
    private const int C3_072 = (int)(3.072711026f * 4096 + 0.5), C1_501 = (int)(1.501321110f * 4096 + 0.5), C0_899 = (int)(-0.899976223f * 4096 + 0.5);
    private const int C2_562 = (int)(-2.562915447f * 4096 + 0.5), C1_961 = (int)(-1.961570560f * 4096 + 0.5), C0_390 = (int)(-0.390180644f * 4096 + 0.5);

    /// <summary>
    /// stb_image's integer inverse DCT (stbi__idct_block, after the IJG's jidctint): columns with 2 fractional bits
    /// kept (shift 10), then rows, shifted by 17 with the +128 level shift and rounding folded into the constant,
    /// clamped to [0, 255]. A column whose AC terms are all zero is the DC term times 4.
    /// </summary>
    private static void Idct(ReadOnlySpan<short> d, Span<int> v, Span<byte> output, int stride)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            IdctVector(d, v, output, stride);
            return;
        }
        for (int i = 0; i < 8; i++)
        {
            if (d[i + 8] == 0 && d[i + 16] == 0 && d[i + 24] == 0 && d[i + 32] == 0 && d[i + 40] == 0 && d[i + 48] == 0 && d[i + 56] == 0)
            {
                int dc = d[i] * 4;
                v[i] = v[i + 8] = v[i + 16] = v[i + 24] = v[i + 32] = v[i + 40] = v[i + 48] = v[i + 56] = dc;
                continue;
            }
            Butterfly(d[i], d[i + 8], d[i + 16], d[i + 24], d[i + 32], d[i + 40], d[i + 48], d[i + 56], 512,
                out int x0t3p, out int x0t3m, out int x1t2p, out int x1t2m, out int x2t1p, out int x2t1m, out int x3t0p, out int x3t0m);
            v[i] = x0t3p >> 10;
            v[i + 56] = x0t3m >> 10;
            v[i + 8] = x1t2p >> 10;
            v[i + 48] = x1t2m >> 10;
            v[i + 16] = x2t1p >> 10;
            v[i + 40] = x2t1m >> 10;
            v[i + 24] = x3t0p >> 10;
            v[i + 32] = x3t0m >> 10;
        }
        for (int i = 0; i < 8; i++)
        {
            var r = v.Slice(i * 8, 8);
            var o = output.Slice(i * stride, 8);
            if (r[1] == 0 && r[2] == 0 && r[3] == 0 && r[4] == 0 && r[5] == 0 && r[6] == 0 && r[7] == 0)
            {
                // With only r[0] the pass gives (r[0]·4096 + bias) >> 17 at all eight places: the same arithmetic, once.
                o.Fill(Clamp((r[0] * 4096 + 65536 + (128 << 17)) >> 17));
                continue;
            }
            Butterfly(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], 65536 + (128 << 17),
                out int x0t3p, out int x0t3m, out int x1t2p, out int x1t2m, out int x2t1p, out int x2t1m, out int x3t0p, out int x3t0m);
            o[0] = Clamp(x0t3p >> 17);
            o[7] = Clamp(x0t3m >> 17);
            o[1] = Clamp(x1t2p >> 17);
            o[6] = Clamp(x1t2m >> 17);
            o[2] = Clamp(x2t1p >> 17);
            o[5] = Clamp(x2t1m >> 17);
            o[3] = Clamp(x3t0p >> 17);
            o[4] = Clamp(x3t0m >> 17);
        }
    }

    /// <summary>
    /// <see cref="Idct"/> on eight columns, then eight rows, at once (one 32-bit lane each): the same integer
    /// operations in the same order, so the same bytes. A column that is DC only gives (d·4096 + 512) >> 10 = 4d at
    /// every row through the full pass, which is the scalar version's shortcut. Between the passes, and before the
    /// rows are written, the 8x8 block is transposed in registers (<see cref="Transpose"/>); the clamped rows are
    /// narrowed to bytes four at a time.
    /// </summary>
    private static void IdctVector(ReadOnlySpan<short> d, Span<int> v, Span<byte> output, int stride)
    {
        var (r0, r1) = Vector256.Widen(Vector256.Create(d[..16]));
        var (r2, r3) = Vector256.Widen(Vector256.Create(d[16..32]));
        var (r4, r5) = Vector256.Widen(Vector256.Create(d[32..48]));
        var (r6, r7) = Vector256.Widen(Vector256.Create(d[48..64]));
        ButterflyVector(r0, r1, r2, r3, r4, r5, r6, r7, Vector256.Create(512),
            out var a0, out var a7, out var a1, out var a6, out var a2, out var a5, out var a3, out var a4);
        // Rows of the intermediate block, turned into its columns for the row pass.
        a0 = Vector256.ShiftRightArithmetic(a0, 10);
        a1 = Vector256.ShiftRightArithmetic(a1, 10);
        a2 = Vector256.ShiftRightArithmetic(a2, 10);
        a3 = Vector256.ShiftRightArithmetic(a3, 10);
        a4 = Vector256.ShiftRightArithmetic(a4, 10);
        a5 = Vector256.ShiftRightArithmetic(a5, 10);
        a6 = Vector256.ShiftRightArithmetic(a6, 10);
        a7 = Vector256.ShiftRightArithmetic(a7, 10);
        Transpose(ref a0, ref a1, ref a2, ref a3, ref a4, ref a5, ref a6, ref a7, v);
        ButterflyVector(a0, a1, a2, a3, a4, a5, a6, a7, Vector256.Create(65536 + (128 << 17)),
            out var o0, out var o7, out var o1, out var o6, out var o2, out var o5, out var o3, out var o4);
        // o_k holds output column k of rows 0..7: clamp, turn into rows, narrow to bytes and write the rows out.
        var zero = Vector256<int>.Zero;
        var max = Vector256.Create(255);
        o0 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o0, 17), zero, max);
        o1 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o1, 17), zero, max);
        o2 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o2, 17), zero, max);
        o3 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o3, 17), zero, max);
        o4 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o4, 17), zero, max);
        o5 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o5, 17), zero, max);
        o6 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o6, 17), zero, max);
        o7 = Vector256.Clamp(Vector256.ShiftRightArithmetic(o7, 17), zero, max);
        Transpose(ref o0, ref o1, ref o2, ref o3, ref o4, ref o5, ref o6, ref o7, v);
        // Every value is in [0, 255], so narrowing keeps it.
        var top = Vector256.Narrow(Vector256.Narrow(o0, o1), Vector256.Narrow(o2, o3)).AsUInt64();
        var bottom = Vector256.Narrow(Vector256.Narrow(o4, o5), Vector256.Narrow(o6, o7)).AsUInt64();
        for (int r = 0; r < 4; r++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(output.Slice(r * stride, 8), top.GetElement(r));
            BinaryPrimitives.WriteUInt64LittleEndian(output.Slice((r + 4) * stride, 8), bottom.GetElement(r));
        }
    }

    /// <summary>
    /// Transposes the 8x8 block whose rows are <paramref name="r0"/>..<paramref name="r7"/>: with AVX2, two rounds of
    /// interleaving and one of 128-bit lane swaps; otherwise through <paramref name="scratch"/> (64 ints).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref Vector256<int> r0, ref Vector256<int> r1, ref Vector256<int> r2, ref Vector256<int> r3,
        ref Vector256<int> r4, ref Vector256<int> r5, ref Vector256<int> r6, ref Vector256<int> r7, Span<int> scratch)
    {
        if (Avx2.IsSupported)
        {
            // Rows a..h: after the 32-bit round t0 = a0 b0 a1 b1 | a4 b4 a5 b5, after the 64-bit round
            // u0 = a0 b0 c0 d0 | a4 b4 c4 d4, and the lane swaps join the halves of columns j and j + 4.
            var t0 = Avx2.UnpackLow(r0, r1).AsInt64();
            var t1 = Avx2.UnpackHigh(r0, r1).AsInt64();
            var t2 = Avx2.UnpackLow(r2, r3).AsInt64();
            var t3 = Avx2.UnpackHigh(r2, r3).AsInt64();
            var t4 = Avx2.UnpackLow(r4, r5).AsInt64();
            var t5 = Avx2.UnpackHigh(r4, r5).AsInt64();
            var t6 = Avx2.UnpackLow(r6, r7).AsInt64();
            var t7 = Avx2.UnpackHigh(r6, r7).AsInt64();
            var u0 = Avx2.UnpackLow(t0, t2).AsInt32();
            var u1 = Avx2.UnpackHigh(t0, t2).AsInt32();
            var u2 = Avx2.UnpackLow(t1, t3).AsInt32();
            var u3 = Avx2.UnpackHigh(t1, t3).AsInt32();
            var u4 = Avx2.UnpackLow(t4, t6).AsInt32();
            var u5 = Avx2.UnpackHigh(t4, t6).AsInt32();
            var u6 = Avx2.UnpackLow(t5, t7).AsInt32();
            var u7 = Avx2.UnpackHigh(t5, t7).AsInt32();
            r0 = Avx2.Permute2x128(u0, u4, 0x20);
            r4 = Avx2.Permute2x128(u0, u4, 0x31);
            r1 = Avx2.Permute2x128(u1, u5, 0x20);
            r5 = Avx2.Permute2x128(u1, u5, 0x31);
            r2 = Avx2.Permute2x128(u2, u6, 0x20);
            r6 = Avx2.Permute2x128(u2, u6, 0x31);
            r3 = Avx2.Permute2x128(u3, u7, 0x20);
            r7 = Avx2.Permute2x128(u3, u7, 0x31);
            return;
        }
        r0.CopyTo(scratch);
        r1.CopyTo(scratch[8..]);
        r2.CopyTo(scratch[16..]);
        r3.CopyTo(scratch[24..]);
        r4.CopyTo(scratch[32..]);
        r5.CopyTo(scratch[40..]);
        r6.CopyTo(scratch[48..]);
        r7.CopyTo(scratch[56..]);
        (r0, r1, r2, r3) = (Column(scratch, 0), Column(scratch, 1), Column(scratch, 2), Column(scratch, 3));
        (r4, r5, r6, r7) = (Column(scratch, 4), Column(scratch, 5), Column(scratch, 6), Column(scratch, 7));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Column(ReadOnlySpan<int> v, int j) => Vector256.Create(v[j], v[8 + j], v[16 + j], v[24 + j], v[32 + j], v[40 + j], v[48 + j], v[56 + j]);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ButterflyVector(Vector256<int> s0, Vector256<int> s1, Vector256<int> s2, Vector256<int> s3, Vector256<int> s4, Vector256<int> s5,
        Vector256<int> s6, Vector256<int> s7, Vector256<int> bias, out Vector256<int> x0t3p, out Vector256<int> x0t3m, out Vector256<int> x1t2p,
        out Vector256<int> x1t2m, out Vector256<int> x2t1p, out Vector256<int> x2t1m, out Vector256<int> x3t0p, out Vector256<int> x3t0m)
    {
        var p1 = (s2 + s6) * C0_541;
        var t2 = p1 + s6 * C1_847;
        var t3 = p1 + s2 * C0_765;
        var t0 = (s0 + s4) * 4096;
        var t1 = (s0 - s4) * 4096;
        var x0 = t0 + t3 + bias;
        var x3 = t0 - t3 + bias;
        var x1 = t1 + t2 + bias;
        var x2 = t1 - t2 + bias;
        var o0 = s7;
        var o1 = s5;
        var o2 = s3;
        var o3 = s1;
        var p3 = o0 + o2;
        var p4 = o1 + o3;
        var q1 = o0 + o3;
        var q2 = o1 + o2;
        var p5 = (p3 + p4) * C1_175;
        o0 *= C0_298;
        o1 *= C2_053;
        o2 *= C3_072;
        o3 *= C1_501;
        q1 = p5 + q1 * C0_899;
        q2 = p5 + q2 * C2_562;
        p3 *= C1_961;
        p4 *= C0_390;
        o3 += q1 + p4;
        o2 += q2 + p3;
        o1 += q2 + p4;
        o0 += q1 + p3;
        (x0t3p, x0t3m, x1t2p, x1t2m) = (x0 + o3, x0 - o3, x1 + o2, x1 - o2);
        (x2t1p, x2t1m, x3t0p, x3t0m) = (x2 + o1, x2 - o1, x3 + o0, x3 - o0);
    }

    /// <summary>One 8-point pass of the IDCT (stbi__IDCT_1D) with <paramref name="bias"/> added to the even part.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Butterfly(int s0, int s1, int s2, int s3, int s4, int s5, int s6, int s7, int bias,
        out int x0t3p, out int x0t3m, out int x1t2p, out int x1t2m, out int x2t1p, out int x2t1m, out int x3t0p, out int x3t0m)
    {
        // Even part.
        int p1 = (s2 + s6) * C0_541;
        int t2 = p1 + s6 * C1_847;
        int t3 = p1 + s2 * C0_765;
        int t0 = (s0 + s4) * 4096;
        int t1 = (s0 - s4) * 4096;
        int x0 = t0 + t3 + bias, x3 = t0 - t3 + bias, x1 = t1 + t2 + bias, x2 = t1 - t2 + bias;
        // Odd part.
        int o0 = s7, o1 = s5, o2 = s3, o3 = s1;
        int p3 = o0 + o2, p4 = o1 + o3, q1 = o0 + o3, q2 = o1 + o2;
        int p5 = (p3 + p4) * C1_175;
        o0 *= C0_298;
        o1 *= C2_053;
        o2 *= C3_072;
        o3 *= C1_501;
        q1 = p5 + q1 * C0_899;
        q2 = p5 + q2 * C2_562;
        p3 *= C1_961;
        p4 *= C0_390;
        o3 += q1 + p4;
        o2 += q2 + p3;
        o1 += q2 + p4;
        o0 += q1 + p3;
        (x0t3p, x0t3m, x1t2p, x1t2m) = (x0 + o3, x0 - o3, x1 + o2, x1 - o2);
        (x2t1p, x2t1m, x3t0p, x3t0m) = (x2 + o1, x2 - o1, x3 + o0, x3 - o0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte Clamp(int x) => (uint)x <= 255 ? (byte)x : x < 0 ? (byte)0 : (byte)255;

    /// <summary>
    /// The decoded samples as planes: gray as it is; three components upsampled and converted as stb_image does, and
    /// with <paramref name="toGray"/> then reduced to one plane as <see cref="Grayscale.ToGray"/> reduces the RGB planes.
    /// </summary>
    private ImagePlanes Output(byte[] samples, ReadOnlySpan<float> level, bool toGray)
    {
        var comps = _components!;
        int w = _width, h = _height;
        if (comps.Length == 1)
        {
            var gray = new ImagePlanes(GC.AllocateUninitializedArray<float>(w * h), 1, h, w);
            var dst = gray.Data.AsSpan();
            var c = comps[0];
            for (int y = 0; y < h; y++) GrayRow(samples.AsSpan(c.Offset + y * c.Stride, w), dst.Slice(y * w, w), level);
            return gray;
        }
        var frame = comps;
        bool rgb = frame[0].Id == 'R' && frame[1].Id == 'G' && frame[2].Id == 'B';
        var planes = new ImagePlanes(GC.AllocateUninitializedArray<float>((toGray ? 1 : 3) * w * h), toGray ? 1 : 3, h, w);
        var data = planes.Data.AsSpan();
        if (!rgb && ChromaIsFlat(samples))
        {
            // Cb = Cr = 128 everywhere (a gray picture in a colour file, as most writers save one): the conversion's
            // R, G and B are all Y (20-bit fixed point, (Y·2^20 + 2^19) >> 20 = Y), so each output sample is a function
            // of Y alone, looked up instead of upsampling and converting. The same floats: the table is made by the
            // same float operations.
            Interlocked.Increment(ref s_flatChromaDecodes);
            var yPlane = samples.AsSpan(frame[0].Offset);
            int stride = frame[0].Stride;
            if (toGray)
            {
                var grayOfLevel = GrayOfLevel;
                for (int y = 0; y < h; y++)
                {
                    var row = yPlane.Slice(y * stride, w);
                    var dst = data.Slice(y * w, w);
                    for (int x = 0; x < row.Length; x++) dst[x] = grayOfLevel[row[x]];
                }
                return planes;
            }
            for (int y = 0; y < h; y++) GrayRow(yPlane.Slice(y * stride, w), data.Slice(y * w, w), level);
            data[..(w * h)].CopyTo(data.Slice(w * h));
            data[..(w * h)].CopyTo(data.Slice(2 * w * h));
            return planes;
        }
        int hs = _hMax, vs = _vMax; // chroma subsampling factors (luma is at the finest sampling)
        int lores = (w + hs - 1) / hs;
        Span<byte> cbRow = lores <= 512 ? stackalloc byte[2 * lores + 2] : new byte[2 * lores + 2];
        Span<byte> crRow = lores <= 512 ? stackalloc byte[2 * lores + 2] : new byte[2 * lores + 2];
        var luma = frame[0];
        // stb_image's resampler state for the two chroma planes (they share the geometry): ystep, the near and far rows.
        int ystep = vs >> 1, line0 = 0, line1 = 0, ypos = 0, chromaHeight = frame[1].Height, chromaStride = frame[1].Stride;
        for (int y = 0; y < h; y++)
        {
            bool bottom = ystep >= vs >> 1;
            int near = bottom ? line1 : line0, far = bottom ? line0 : line1;
            var cb = Resample(samples.AsSpan(frame[1].Offset), near, far, lores, hs, vs, cbRow);
            var cr = Resample(samples.AsSpan(frame[2].Offset), near, far, lores, hs, vs, crRow);
            if (++ystep >= vs)
            {
                ystep = 0;
                line0 = line1;
                if (++ypos < chromaHeight) line1 += chromaStride;
            }
            var yRow = samples.AsSpan(luma.Offset + y * luma.Stride, w);
            if (toGray) ColourRow(yRow, cb, cr, rgb, data.Slice(y * w, w), default, default, level);
            else ColourRow(yRow, cb, cr, rgb, data.Slice(y * w, w), data.Slice(w * h + y * w, w), data.Slice(2 * w * h + y * w, w), level);
        }
        return planes;
    }

    /// <summary>How many colour files were decoded through the flat-chroma shortcut (for the tests that check it is taken).</summary>
    internal static int FlatChromaDecodes => Volatile.Read(ref s_flatChromaDecodes);

    private static int s_flatChromaDecodes;

    /// <summary>
    /// The gray of R = G = B = level k: <c>(L·0.299 + L·0.587) + L·0.114</c> in float with L = k/255, the operations of
    /// <see cref="ColourRow"/>'s gray output in the same order.
    /// </summary>
    private static readonly float[] GrayOfLevel = [.. ImageIO.Levels.Select(l => l * Grayscale.Red + l * Grayscale.Green + l * Grayscale.Blue)];

    /// <summary>Whether both chroma planes (the whole decoded area, padding blocks included) hold only 128.</summary>
    private bool ChromaIsFlat(byte[] samples)
    {
        var comps = _components!;
        for (int i = 1; i < 3; i++)
        {
            var c = comps[i];
            if (samples.AsSpan(c.Offset, c.Stride * _mcusY * c.V * 8).IndexOfAnyExcept((byte)128) >= 0) return false;
        }
        return true;
    }

    /// <summary>One row of 8-bit gray samples as floats k/255 (<paramref name="level"/>; the vector path divides, which gives the same floats).</summary>
    private static void GrayRow(ReadOnlySpan<byte> row, Span<float> output, ReadOnlySpan<float> level)
    {
        int x = 0, w = row.Length;
        if (Vector256.IsHardwareAccelerated && w >= 8)
        {
            // The last eight overlap the ones before when w is not a multiple of 8: the same values written again.
            for (; x < w; x += 8)
            {
                if (x > w - 8) x = w - 8;
                Levels(Widen8(row[x..])).CopyTo(output[x..]);
            }
        }
        for (; x < w; x++) output[x] = level[row[x]];
    }

    /// <summary>
    /// One row of Y, Cb, Cr samples (or R, G, B when <paramref name="rgb"/>) to float R, G, B in
    /// <paramref name="red"/>, <paramref name="green"/> and <paramref name="blue"/>, or, when those two are empty, to
    /// gray in <paramref name="red"/>: <c>(R·0.299 + G·0.587) + B·0.114</c> in float, in <see cref="Grayscale.ToGray"/>'s
    /// order, so the same floats. Eight samples at a time with Vector256 (the same integer operations and the same float
    /// operations, unfused), a row narrower than eight one by one.
    /// </summary>
    private static void ColourRow(ReadOnlySpan<byte> y, ReadOnlySpan<byte> cb, ReadOnlySpan<byte> cr, bool rgb, Span<float> red, Span<float> green,
        Span<float> blue, ReadOnlySpan<float> level)
    {
        bool gray = green.IsEmpty;
        int w = y.Length, x = 0;
        if (Vector256.IsHardwareAccelerated && w >= 8)
        {
            for (; x < w; x += 8)
            {
                // The last eight overlap the ones before when w is not a multiple of 8: the same values written again.
                if (x > w - 8) x = w - 8;
                Vector256<int> r, g, b;
                if (rgb)
                {
                    (r, g, b) = (Widen8(y[x..]), Widen8(cb[x..]), Widen8(cr[x..]));
                }
                else
                {
                    var yFixed = Vector256.ShiftLeft(Widen8(y[x..]), 20) + Vector256.Create(1 << 19);
                    var crv = Widen8(cr[x..]) - Vector256.Create(128);
                    var cbv = Widen8(cb[x..]) - Vector256.Create(128);
                    var zero = Vector256<int>.Zero;
                    var max = Vector256.Create(255);
                    r = Vector256.Clamp(Vector256.ShiftRightArithmetic(yFixed + crv * (CrToR << 8), 20), zero, max);
                    g = Vector256.Clamp(Vector256.ShiftRightArithmetic(yFixed + crv * -(CrToG << 8) + (cbv * -(CbToG << 8) & Vector256.Create(unchecked((int)0xFFFF0000u))), 20), zero, max);
                    b = Vector256.Clamp(Vector256.ShiftRightArithmetic(yFixed + cbv * (CbToB << 8), 20), zero, max);
                }
                if (gray)
                {
                    (Levels(r) * Grayscale.Red + Levels(g) * Grayscale.Green + Levels(b) * Grayscale.Blue).CopyTo(red[x..]);
                    continue;
                }
                Levels(r).CopyTo(red[x..]);
                Levels(g).CopyTo(green[x..]);
                Levels(b).CopyTo(blue[x..]);
            }
        }
        for (; x < w; x++)
        {
            float rf, gf, bf;
            if (rgb)
            {
                (rf, gf, bf) = (level[y[x]], level[cb[x]], level[cr[x]]);
            }
            else
            {
                // stbi__YCbCr_to_RGB_row: 20-bit fixed point, the G term's Cb product truncated to its top 16 bits.
                int yFixed = (y[x] << 20) + (1 << 19);
                int crv = cr[x] - 128, cbv = cb[x] - 128;
                int rv = (yFixed + crv * (CrToR << 8)) >> 20;
                int gv = (yFixed + crv * -(CrToG << 8) + (int)((uint)(cbv * -(CbToG << 8)) & 0xFFFF0000u)) >> 20;
                int bv = (yFixed + cbv * (CbToB << 8)) >> 20;
                (rf, gf, bf) = (level[Clamp(rv)], level[Clamp(gv)], level[Clamp(bv)]);
            }
            if (gray) red[x] = rf * Grayscale.Red + gf * Grayscale.Green + bf * Grayscale.Blue;
            else (red[x], green[x], blue[x]) = (rf, gf, bf);
        }
    }

    /// <summary>Eight bytes from the start of <paramref name="s"/> in the low half of a vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Load8(ReadOnlySpan<byte> s) => Vector128.CreateScalarUnsafe(BinaryPrimitives.ReadUInt64LittleEndian(s)).AsByte();

    /// <summary>Eight bytes from the start of <paramref name="s"/> as eight int lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Widen8(ReadOnlySpan<byte> s)
    {
        var words = Vector128.WidenLower(Load8(s));
        return Vector256.Create(Vector128.WidenLower(words), Vector128.WidenUpper(words)).AsInt32();
    }

    /// <summary>Levels 0..255 as the floats k / 255 (correctly rounded, as <see cref="ImageIO.Levels"/> holds them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Levels(Vector256<int> k) => Vector256.ConvertToSingle(k) / Vector256.Create(255f);

    private const int CrToR = (int)(1.40200f * 4096.0f + 0.5f), CrToG = (int)(0.71414f * 4096.0f + 0.5f);
    private const int CbToG = (int)(0.34414f * 4096.0f + 0.5f), CbToB = (int)(1.77200f * 4096.0f + 0.5f);

    /// <summary>
    /// One chroma row at full width, as stb_image's resample_row_1 / _v_2 / _h_2 / _hv_2 make it from the near and far
    /// low-resolution rows (offsets into <paramref name="plane"/>): weights 3:1 between the rows and between the columns.
    /// </summary>
    private static ReadOnlySpan<byte> Resample(ReadOnlySpan<byte> plane, int near, int far, int w, int hs, int vs, Span<byte> output)
    {
        var n = plane[near..];
        var f = plane[far..];
        if (hs == 1 && vs == 1) return n[..w];
        var o = output;
        if (hs == 1)
        {
            for (int i = 0; i < w; i++) o[i] = (byte)((3 * n[i] + f[i] + 2) >> 2);
            return o[..w];
        }
        if (vs == 1)
        {
            if (w == 1)
            {
                o[0] = o[1] = n[0];
                return o[..2];
            }
            o[0] = n[0];
            o[1] = (byte)((n[0] * 3 + n[1] + 2) >> 2);
            int i = 1;
            for (; i < w - 1; i++)
            {
                int m = 3 * n[i] + 2;
                o[i * 2] = (byte)((m + n[i - 1]) >> 2);
                o[i * 2 + 1] = (byte)((m + n[i + 1]) >> 2);
            }
            o[i * 2] = (byte)((n[w - 2] * 3 + n[w - 1] + 2) >> 2);
            o[i * 2 + 1] = n[w - 1];
            return o[..(2 * w)];
        }
        if (w == 1)
        {
            o[0] = o[1] = (byte)((3 * n[0] + f[0] + 2) >> 2);
            return o[..2];
        }
        // stbi__resample_row_hv_2 as its SIMD form does it: eight columns at a time (all but the last column, whose
        // filter has no right neighbour), then column by column; the same 16-bit sums, so the same bytes.
        int t1 = 3 * n[0] + f[0], col = 0;
        if (Vector128.IsHardwareAccelerated)
        {
            for (; col < ((w - 1) & ~7); col += 8)
            {
                var curr = Vector128.WidenLower(Load8(n[col..])) * 3 + Vector128.WidenLower(Load8(f[col..]));
                var prev = Vector128.Shuffle(curr, Vector128.Create((ushort)0, 0, 1, 2, 3, 4, 5, 6)).WithElement(0, (ushort)t1);
                var next = Vector128.Shuffle(curr, Vector128.Create((ushort)1, 2, 3, 4, 5, 6, 7, 7)).WithElement(7, (ushort)(3 * n[col + 8] + f[col + 8]));
                var bias = curr * 3 + Vector128.Create((ushort)8);
                var even = Vector128.ShiftRightLogical(bias + prev, 4);
                var odd = Vector128.ShiftRightLogical(bias + next, 4);
                // Even outputs come from a column and its left neighbour, odd ones from it and its right one.
                Vector128.Shuffle(Vector128.Narrow(even, odd), Vector128.Create((byte)0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15))
                    .CopyTo(o[(col * 2)..]);
                t1 = 3 * n[col + 7] + f[col + 7];
            }
        }
        int t0 = t1;
        t1 = 3 * n[col] + f[col];
        o[col * 2] = (byte)((3 * t1 + t0 + 8) >> 4);
        for (col++; col < w; col++)
        {
            t0 = t1;
            t1 = 3 * n[col] + f[col];
            o[col * 2 - 1] = (byte)((3 * t0 + t1 + 8) >> 4);
            o[col * 2] = (byte)((3 * t1 + t0 + 8) >> 4);
        }
        o[w * 2 - 1] = (byte)((t1 + 2) >> 2);
        return o[..(2 * w)];
    }
}
