using System.Buffers.Binary;

namespace Fovea.Vision.Imaging;

/// <summary>
/// JPEG structure, proved before the decoder runs. The decoder (stb_image) ends a scan early without complaint when
/// the entropy-coded data meets a marker, fills what is missing with grey, returns success on a marker it does not
/// know, and trusts every declared segment length. So this walk:
/// <list type="bullet">
/// <item>reads every marker segment from start-of-image to end-of-image, each declared length inside the file, and
/// refuses markers the decoder does not handle (lossless, hierarchical, arithmetic coding);</item>
/// <item>checks the frame header (8-bit precision, 1/3/4 components, sampling factors) and the pixel cap before any
/// pixel memory is allocated;</item>
/// <item>decodes the Huffman codes of every scan (tables, restart intervals and RSTn markers, no dequantisation or
/// IDCT) and requires every MCU of the scan before the next marker. For sequential JPEGs every component must be in
/// a scan. For progressive JPEGs every scan kind is walked exactly (DC first and refinement, AC first and AC
/// refinement, the latter with a one-bit-per-coefficient map of which coefficients are non-zero, 1/8 byte per
/// sample), and every coefficient of every component must be brought to full precision (successive approximation
/// down to bit 0), so a file cut between scans is refused as well as one cut inside a scan. What is not proved is
/// that coefficient values are sensible: damaged data that still parses decodes to whatever it encodes.</item>
/// </list>
/// Every loop consumes input (a marker, a byte, or at least one bit per Huffman symbol) or a bounded count of blocks,
/// and stops at the end of the file, so the walk always ends.
/// </summary>
internal sealed class JpegFileCheck
{
    private readonly byte[] _data;
    private readonly JpegHuffmanTable?[] _dcTables = new JpegHuffmanTable?[4];
    private readonly JpegHuffmanTable?[] _acTables = new JpegHuffmanTable?[4];
    private readonly bool[] _quantDefined = new bool[4];
    private Component[]? _components;
    private bool _progressive;
    private int _width, _height, _mcusX, _mcusY, _restartInterval, _scans;

    private JpegFileCheck(byte[] data) => _data = data;

    /// <summary>Walks the whole file; returns the frame size or throws <see cref="InvalidDataException"/>.</summary>
    public static ImageHeader Inspect(byte[] data, long maxPixels) => new JpegFileCheck(data).Walk(maxPixels);

    private ImageHeader Walk(long maxPixels)
    {
        int pos = 2; // after start-of-image
        while (true)
        {
            if (pos >= _data.Length)
            {
                // Some writers omit the end-of-image marker; a sequential image is still whole if every scan is. The
                // decoder only assembles a progressive image's coefficients at that marker, so there it is required.
                if (_scans == 0 || _progressive) throw Truncated("JPEG ends without an end-of-image marker");
                CheckComplete($"ends at byte {_data.Length} without an end-of-image marker");
                return new ImageHeader(ImageFileFormat.Jpeg, _width, _height);
            }
            if (_data[pos] != 0xFF) throw ImageFileCheck.Fail($"expected a JPEG marker at byte {pos}, found 0x{_data[pos]:X2}");
            int markerAt = pos;
            while (pos < _data.Length && _data[pos] == 0xFF) pos++; // fill bytes may precede any marker
            if (pos >= _data.Length) throw Truncated("JPEG ends without an end-of-image marker");
            int marker = _data[pos++];
            switch (marker)
            {
                case 0xD9:
                    CheckComplete($"reaches its end-of-image marker at byte {markerAt}");
                    return new ImageHeader(ImageFileFormat.Jpeg, _width, _height);
                case 0xC0 or 0xC1 or 0xC2:
                    ReadFrame(Segment(ref pos, marker, markerAt), marker == 0xC2, markerAt, maxPixels);
                    break;
                case 0xC4:
                    ReadHuffmanTables(Segment(ref pos, marker, markerAt), markerAt);
                    break;
                case 0xDB:
                    ReadQuantTables(Segment(ref pos, marker, markerAt), markerAt);
                    break;
                case 0xDD:
                    var dri = Segment(ref pos, marker, markerAt);
                    if (dri.Length != 2) throw ImageFileCheck.Fail($"JPEG restart-interval segment at byte {markerAt} is {dri.Length + 2} bytes, not 4");
                    _restartInterval = BinaryPrimitives.ReadUInt16BigEndian(dri);
                    break;
                case 0xDC:
                    var dnl = Segment(ref pos, marker, markerAt);
                    if (_components == null || dnl.Length != 2 || BinaryPrimitives.ReadUInt16BigEndian(dnl) != _height)
                        throw ImageFileCheck.Fail($"JPEG number-of-lines segment at byte {markerAt} does not match the frame height");
                    break;
                case 0xDA:
                    var header = Segment(ref pos, marker, markerAt);
                    pos = Scan(header, markerAt, pos);
                    break;
                case >= 0xE0 and <= 0xEF or 0xFE:
                    Segment(ref pos, marker, markerAt); // application data and comments: only the length matters
                    break;
                default:
                    throw ImageFileCheck.Fail($"unsupported or misplaced JPEG marker 0xFF{marker:X2} at byte {markerAt}" +
                                              (marker is 0xC3 or (>= 0xC5 and <= 0xCF and not 0xC8)
                                                  ? " (lossless, hierarchical or arithmetic-coded JPEG is not read)" : ""));
            }
        }
    }

    /// <summary>The body of a length-prefixed segment; its declared length must lie inside the file.</summary>
    private ReadOnlySpan<byte> Segment(ref int pos, int marker, int markerAt)
    {
        if (pos + 2 > _data.Length) throw Truncated($"JPEG segment 0xFF{marker:X2} at byte {markerAt} has no length");
        int length = BinaryPrimitives.ReadUInt16BigEndian(_data.AsSpan(pos));
        if (length < 2) throw ImageFileCheck.Fail($"JPEG segment 0xFF{marker:X2} at byte {markerAt} declares length {length}, below 2");
        if (pos + (long)length > _data.Length)
            throw ImageFileCheck.Fail($"JPEG segment 0xFF{marker:X2} at byte {markerAt} declares {length} bytes, past the end of the file at byte {_data.Length}");
        var body = _data.AsSpan(pos + 2, length - 2);
        pos += length;
        return body;
    }

    private InvalidDataException Truncated(string what) => ImageFileCheck.Fail($"truncated at byte {_data.Length} ({what})");

    private void ReadFrame(ReadOnlySpan<byte> s, bool progressive, int at, long maxPixels)
    {
        if (_components != null) throw ImageFileCheck.Fail($"second JPEG frame header at byte {at}");
        if (s.Length < 6) throw ImageFileCheck.Fail($"JPEG frame header at byte {at} is too short");
        int precision = s[0], count = s[5];
        _height = BinaryPrimitives.ReadUInt16BigEndian(s[1..]);
        _width = BinaryPrimitives.ReadUInt16BigEndian(s[3..]);
        if (precision != 8) throw ImageFileCheck.Fail($"unsupported JPEG sample precision {precision} bits at byte {at} (8 is read)");
        // A height of 0 defers it to a DNL marker, which the decoder does not support.
        if (_width == 0 || _height == 0) throw ImageFileCheck.Fail($"JPEG frame header at byte {at} declares an invalid size {_width}x{_height}");
        if (count is not (1 or 3 or 4)) throw ImageFileCheck.Fail($"unsupported JPEG component count {count} at byte {at} (1, 3 or 4 are read)");
        if (s.Length != 6 + 3 * count) throw ImageFileCheck.Fail($"JPEG frame header at byte {at} is {s.Length + 2} bytes, not {8 + 3 * count}");
        ImageFileCheck.CheckPixelCap("JPEG", _width, _height, maxPixels);
        var components = new Component[count];
        int hMax = 1, vMax = 1;
        for (int i = 0; i < count; i++)
        {
            var c = components[i] = new Component(s[6 + 3 * i], s[7 + 3 * i] >> 4, s[7 + 3 * i] & 15, s[8 + 3 * i]);
            if (c.H is < 1 or > 4 || c.V is < 1 or > 4 || c.Quant > 3)
                throw ImageFileCheck.Fail($"JPEG component {c.Id} at byte {at} has invalid sampling {c.H}x{c.V} or quantisation table {c.Quant}");
            hMax = Math.Max(hMax, c.H);
            vMax = Math.Max(vMax, c.V);
        }
        _mcusX = (_width + 8 * hMax - 1) / (8 * hMax);
        _mcusY = (_height + 8 * vMax - 1) / (8 * vMax);
        foreach (var c in components)
        {
            if (hMax % c.H != 0 || vMax % c.V != 0)
                throw ImageFileCheck.Fail($"JPEG component {c.Id} at byte {at} has sampling {c.H}x{c.V}, not a divisor of {hMax}x{vMax}");
            // Blocks of a single-component scan cover the component's own samples; an interleaved scan covers whole MCUs.
            c.BlocksX = ((_width * c.H + hMax - 1) / hMax + 7) / 8;
            c.BlocksY = ((_height * c.V + vMax - 1) / vMax + 7) / 8;
            c.Stride = _mcusX * c.H;
        }
        _components = components;
        _progressive = progressive;
    }

    private void ReadHuffmanTables(ReadOnlySpan<byte> s, int at)
    {
        while (s.Length > 0)
        {
            int tableClass = s[0] >> 4, id = s[0] & 15;
            if (tableClass > 1 || id > 3 || s.Length < 17) throw ImageFileCheck.Fail($"JPEG Huffman table segment at byte {at} is malformed");
            var counts = s.Slice(1, 16);
            int total = 0;
            foreach (byte n in counts) total += n;
            if (total > 256 || s.Length < 17 + total) throw ImageFileCheck.Fail($"JPEG Huffman table segment at byte {at} is malformed");
            var table = JpegHuffmanTable.Build(counts, s.Slice(17, total))
                        ?? throw ImageFileCheck.Fail($"JPEG Huffman table {id} at byte {at} has more codes than its code lengths allow");
            (tableClass == 0 ? _dcTables : _acTables)[id] = table;
            s = s[(17 + total)..];
        }
    }

    private void ReadQuantTables(ReadOnlySpan<byte> s, int at)
    {
        while (s.Length > 0)
        {
            int wide = s[0] >> 4, id = s[0] & 15, size = 1 + (wide == 1 ? 128 : 64);
            if (wide > 1 || id > 3 || s.Length < size) throw ImageFileCheck.Fail($"JPEG quantisation table segment at byte {at} is malformed");
            _quantDefined[id] = true;
            s = s[size..];
        }
    }

    /// <summary>Checks a scan header and walks its entropy-coded data; returns the position of the marker after it.</summary>
    private int Scan(ReadOnlySpan<byte> s, int at, int dataStart)
    {
        if (_components == null) throw ImageFileCheck.Fail($"JPEG start-of-scan at byte {at} comes before the frame header");
        int count = s.Length > 0 ? s[0] : 0;
        if (count < 1 || count > _components.Length || s.Length != 4 + 2 * count)
            throw ImageFileCheck.Fail($"JPEG scan header at byte {at} is malformed");
        var members = new Component[count];
        for (int i = 0; i < count; i++)
        {
            int id = s[1 + 2 * i], tables = s[2 + 2 * i];
            // The decoder takes the first component with the id, so the same rule is used here.
            var c = Array.Find(_components, x => x.Id == id) ?? throw ImageFileCheck.Fail($"JPEG scan at byte {at} names component {id}, which the frame does not have");
            if (Array.IndexOf(members, c) >= 0) throw ImageFileCheck.Fail($"JPEG scan at byte {at} lists component {id} twice");
            if (tables >> 4 > 3 || (tables & 15) > 3) throw ImageFileCheck.Fail($"JPEG scan at byte {at} names Huffman table beyond 3");
            if (!_quantDefined[c.Quant]) throw ImageFileCheck.Fail($"JPEG scan at byte {at}: component {id} uses quantisation table {c.Quant}, which is not defined");
            c.DcTable = _dcTables[tables >> 4];
            c.AcTable = _acTables[tables & 15];
            members[i] = c;
        }
        int ss = s[1 + 2 * count], se = s[2 + 2 * count], ah = s[3 + 2 * count] >> 4, al = s[3 + 2 * count] & 15;
        var kind = _progressive ? ProgressiveKind(members, ss, se, ah, al, at) : SequentialKind(members, ss, ah, al, at);
        foreach (var c in members)
        {
            bool needsDc = kind is ScanKind.Sequential or ScanKind.DcFirst, needsAc = kind is ScanKind.Sequential or ScanKind.AcFirst or ScanKind.AcRefine;
            if ((needsDc && c.DcTable == null) || (needsAc && c.AcTable == null))
                throw ImageFileCheck.Fail($"JPEG scan at byte {at}: component {c.Id} uses a Huffman table that is not defined");
        }
        // The non-zero map is made at a component's first AC scan, after its DC scan has proved at least one bit of
        // data per block, so its 8 bytes per block stay a small multiple of the file's size.
        if (kind is ScanKind.AcFirst or ScanKind.AcRefine) members[0].NonZero ??= new ulong[(long)members[0].Stride * _mcusY * members[0].V];
        _scans++;
        return new EntropyWalk(this, members, kind, ss, se, at, dataStart).Run();
    }

    private static ScanKind SequentialKind(Component[] members, int ss, int ah, int al, int at)
    {
        if (ss != 0 || ah != 0 || al != 0) throw ImageFileCheck.Fail($"JPEG sequential scan at byte {at} has progressive parameters");
        foreach (var c in members)
        {
            if (c.Scanned) throw ImageFileCheck.Fail($"JPEG sequential scan at byte {at} repeats component {c.Id}");
            c.Scanned = true;
        }
        return ScanKind.Sequential;
    }

    /// <summary>
    /// Checks the spectral band and successive-approximation bits against what earlier scans left (JPEG G.1.1.1):
    /// a band is first sent once, then refined one bit at a time; DC comes before AC.
    /// </summary>
    private static ScanKind ProgressiveKind(Component[] members, int ss, int se, int ah, int al, int at)
    {
        if (ss > se || se > 63 || ah > 13 || al > 13 || (ss == 0 && se != 0) || (ss > 0 && members.Length != 1))
            throw ImageFileCheck.Fail($"JPEG progressive scan at byte {at} has invalid band {ss}..{se} or bits {ah}/{al}");
        foreach (var c in members)
        {
            if (ss > 0 && c.Precision[0] < 0) throw ImageFileCheck.Fail($"JPEG progressive scan at byte {at} sends AC of component {c.Id} before its DC");
            for (int k = ss; k <= se; k++)
            {
                bool fits = ah == 0 ? c.Precision[k] < 0 : c.Precision[k] == ah && al == ah - 1;
                if (!fits) throw ImageFileCheck.Fail($"JPEG progressive scan at byte {at} does not follow the earlier scans of component {c.Id} (band {ss}..{se}, bits {ah}/{al})");
                c.Precision[k] = al;
            }
        }
        return (ss == 0, ah == 0) switch
        {
            (true, true) => ScanKind.DcFirst,
            (true, false) => ScanKind.DcRefine,
            (false, true) => ScanKind.AcFirst,
            _ => ScanKind.AcRefine,
        };
    }

    /// <summary>At the end of the image: every component has its scans (sequential) or every coefficient is at full precision (progressive).</summary>
    private void CheckComplete(string end)
    {
        if (_components == null || _scans == 0) throw ImageFileCheck.Fail($"JPEG {end} without a frame and scan");
        foreach (var c in _components)
        {
            if (!_progressive && !c.Scanned)
                throw ImageFileCheck.Fail($"JPEG {end} before any scan of component {c.Id} (the file is cut or damaged)");
            if (_progressive)
                for (int k = 0; k < 64; k++)
                    if (c.Precision[k] != 0)
                        throw ImageFileCheck.Fail($"JPEG {end} before coefficient {k} of component {c.Id} is " +
                                                  (c.Precision[k] < 0 ? "sent" : $"refined below bit {c.Precision[k]}") + " (the file is cut or damaged)");
        }
    }

    private enum ScanKind { Sequential, DcFirst, DcRefine, AcFirst, AcRefine }

    private sealed class Component(int id, int h, int v, int quant)
    {
        public int Id { get; } = id;
        public int H { get; } = h;
        public int V { get; } = v;
        public int Quant { get; } = quant;
        public int BlocksX { get; set; }
        public int BlocksY { get; set; }
        /// <summary>Blocks per row of the MCU-padded block grid.</summary>
        public int Stride { get; set; }
        public JpegHuffmanTable? DcTable { get; set; }
        public JpegHuffmanTable? AcTable { get; set; }
        /// <summary>Sequential: this component's scan has been seen.</summary>
        public bool Scanned { get; set; }
        /// <summary>Progressive: per zig-zag coefficient, the lowest bit sent so far (-1: not sent).</summary>
        public int[] Precision { get; } = Enumerable.Repeat(-1, 64).ToArray();
        /// <summary>Progressive: per block, bit k set when zig-zag coefficient k is non-zero (AC refinement reads a bit for each).</summary>
        public ulong[]? NonZero { get; set; }
    }

    /// <summary>One scan's entropy-coded data, decoded to Huffman symbols only, MCU by MCU.</summary>
    private sealed class EntropyWalk(JpegFileCheck jpeg, Component[] members, ScanKind kind, int ss, int se, int scanAt, int start)
    {
        private readonly byte[] _data = jpeg._data;
        /// <summary>Bits not yet used, left-aligned; <c>_count</c> of them are valid.</summary>
        private ulong _buffer;
        private int _pos = start, _count, _mcu, _mcus, _eobRun;

        /// <summary>Walks every MCU; returns the position of the marker that follows the scan.</summary>
        public int Run()
        {
            var single = members.Length == 1 ? members[0] : null;
            _mcus = single != null ? single.BlocksX * single.BlocksY : jpeg._mcusX * jpeg._mcusY;
            int restart = jpeg._restartInterval;
            for (_mcu = 0; _mcu < _mcus; _mcu++)
            {
                if (restart != 0 && _mcu > 0 && _mcu % restart == 0) ExpectRestart();
                if (single != null)
                    Block(single, _mcu % single.BlocksX, _mcu / single.BlocksX);
                else
                {
                    int mx = _mcu % jpeg._mcusX, my = _mcu / jpeg._mcusX;
                    foreach (var c in members)
                        for (int y = 0; y < c.V; y++)
                            for (int x = 0; x < c.H; x++)
                                Block(c, mx * c.H + x, my * c.V + y);
                }
            }
            return NextMarker();
        }

        private void Block(Component c, int bx, int by)
        {
            switch (kind)
            {
                case ScanKind.Sequential:
                    Skip(DcCategory(c));
                    for (int k = 1; k < 64;)
                    {
                        int rs = Symbol(c.AcTable!), run = rs >> 4, size = rs & 15;
                        if (size == 0 && run != 15) break; // end of block
                        k += size == 0 ? 16 : run;
                        if (k > (size == 0 ? 64 : 63)) throw Corrupt("AC coefficients run past the end of an 8x8 block");
                        Skip(size);
                        if (size != 0) k++;
                    }
                    break;
                case ScanKind.DcFirst:
                    Skip(DcCategory(c));
                    break;
                case ScanKind.DcRefine:
                    Bit();
                    break;
                case ScanKind.AcFirst:
                    AcFirst(ref c.NonZero![(long)by * c.Stride + bx]);
                    break;
                default:
                    AcRefine(ref c.NonZero![(long)by * c.Stride + bx]);
                    break;
            }
        }

        private int DcCategory(Component c)
        {
            int t = Symbol(c.DcTable!);
            if (t > 15) throw Corrupt($"DC difference category {t} is above 15");
            return t;
        }

        /// <summary>First pass over an AC band: runs of zeros, coefficient sizes and end-of-band runs (G.1.2.2).</summary>
        private void AcFirst(ref ulong nonZero)
        {
            if (_eobRun > 0) { _eobRun--; return; }
            for (int k = ss; k <= se;)
            {
                int rs = Symbol(members[0].AcTable!), run = rs >> 4, size = rs & 15;
                if (size == 0 && run < 15)
                {
                    _eobRun = (1 << run) - 1 + Bits(run);
                    return;
                }
                k += size == 0 ? 16 : run;
                if (k > (size == 0 ? se + 1 : se)) throw Corrupt("AC coefficients run past the end of the spectral band");
                if (size == 0) continue;
                Skip(size);
                nonZero |= 1UL << k;
                k++;
            }
        }

        /// <summary>
        /// Refinement of an AC band (G.1.2.3): one correction bit for each coefficient already non-zero, new
        /// coefficients of magnitude one placed after runs of still-zero ones. Mirrors the decoder's reading order.
        /// </summary>
        private void AcRefine(ref ulong nonZero)
        {
            int k = ss;
            if (_eobRun > 0)
            {
                _eobRun--;
                for (; k <= se; k++) if ((nonZero >> k & 1) != 0) Bit();
                return;
            }
            do
            {
                int rs = Symbol(members[0].AcTable!), run = rs >> 4, size = rs & 15;
                if (size == 0)
                {
                    if (run < 15)
                    {
                        _eobRun = (1 << run) - 1 + Bits(run);
                        run = 64; // the rest of the band gets correction bits only
                    }
                }
                else
                {
                    if (size != 1) throw Corrupt($"AC refinement coefficient of size {size}, not 1");
                    Bit(); // sign
                }
                while (k <= se)
                {
                    ulong mask = 1UL << k++;
                    if ((nonZero & mask) != 0) Bit();
                    else if (run == 0)
                    {
                        if (size != 0) nonZero |= mask;
                        break;
                    }
                    else run--;
                }
            } while (k <= se);
        }

        private int Symbol(JpegHuffmanTable table)
        {
            var (value, length) = table.Lookup(Peek16());
            Consume(length); // a code that needs bits past the data is cut short, not merely invalid
            if (value < 0) throw Corrupt("a bit pattern is not a code of the Huffman table");
            return value;
        }

        private void Skip(int count) => Consume(count);

        private int Bits(int count)
        {
            int v = count == 0 ? 0 : Peek16() >> (16 - count);
            Consume(count);
            return v;
        }

        private void Bit() => Consume(1);

        /// <summary>The next 16 bits, zero-padded where the data ends.</summary>
        private int Peek16()
        {
            if (_count < 16) Fill();
            return (int)(_buffer >> 48);
        }

        /// <summary>Uses <paramref name="n"/> bits; a marker or the end of the file before them means the scan is cut short.</summary>
        private void Consume(int n)
        {
            if (_count < n) Fill();
            if (_count < n)
            {
                if (_pos + 1 < _data.Length && _data[_pos] == 0xFF)
                    throw ImageFileCheck.Fail($"JPEG scan at byte {scanAt} meets marker 0xFF{_data[_pos + 1]:X2} at byte {_pos} after {_mcu} of its {_mcus} MCUs " +
                                              "(the entropy-coded data is cut short)");
                throw jpeg.Truncated($"JPEG scan at byte {scanAt} holds {_mcu} of {_mcus} MCUs");
            }
            _buffer <<= n;
            _count -= n;
        }

        /// <summary>
        /// Moves whole data bytes into the bit buffer, undoing the 0xFF 0x00 stuffing. It stops before a marker (or
        /// the end of the file) and leaves <c>_pos</c> there, so bytes past the scan are never taken as data.
        /// </summary>
        private void Fill()
        {
            while (_count <= 56 && _pos < _data.Length)
            {
                int b = _data[_pos];
                if (b == 0xFF)
                {
                    if (_pos + 1 >= _data.Length || _data[_pos + 1] != 0x00) return;
                    _pos++;
                }
                _pos++;
                _buffer |= (ulong)b << (56 - _count);
                _count += 8;
            }
        }

        /// <summary>At a restart boundary the data is byte-aligned and an RSTn marker must follow.</summary>
        private void ExpectRestart()
        {
            // Padding bits complete the last byte; a whole byte left over means data the MCUs did not use.
            Consume(_count % 8);
            if (_count == 0) Fill();
            if (_count > 0) throw Corrupt($"data continues past the end of restart interval {jpeg._restartInterval}");
            int p = _pos;
            while (p + 1 < _data.Length && _data[p] == 0xFF && _data[p + 1] == 0xFF) p++;
            if (p + 1 >= _data.Length || _data[p] != 0xFF || _data[p + 1] is < 0xD0 or > 0xD7)
                throw ImageFileCheck.Fail($"JPEG scan at byte {scanAt} has no restart marker at byte {p} after MCU {_mcu} of {_mcus} " +
                                          $"(restart interval {jpeg._restartInterval}; the file is cut or damaged)");
            _pos = p + 2;
            _buffer = 0;
            _eobRun = 0;
        }

        /// <summary>
        /// After the last MCU: the position of the next marker, or the end of the file. Like the decoder, bytes before
        /// it and a stray restart marker are skipped; every MCU has already been read, so they cannot hide missing data.
        /// </summary>
        private int NextMarker()
        {
            for (int p = _pos; p + 1 < _data.Length; p++)
            {
                if (_data[p] != 0xFF) continue;
                int next = _data[p + 1];
                if (next is 0x00 or 0xFF) continue;
                if (next is >= 0xD0 and <= 0xD7) { p++; continue; }
                return p;
            }
            return _data.Length;
        }

        private InvalidDataException Corrupt(string what) =>
            ImageFileCheck.Fail($"JPEG scan at byte {scanAt} is damaged at byte {_pos} in MCU {_mcu} of {_mcus}: {what}");
    }
}
