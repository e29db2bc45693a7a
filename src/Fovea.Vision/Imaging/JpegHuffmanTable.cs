namespace Fovea.Vision.Imaging;

/// <summary>
/// A canonical Huffman code as JPEG defines it (F.2.2.3): codes of each length are consecutive. Shared by the structure
/// walk (<see cref="JpegFileCheck"/>) and the baseline decoder (<see cref="BaselineJpegDecoder"/>), so both read the
/// same symbols from the same bits.
/// </summary>
internal sealed class JpegHuffmanTable
{
    /// <summary>Codes up to this many bits are found with one lookup of the next bits.</summary>
    public const int FastBits = 9;

    private readonly int[] _maxCode = new int[17], _minCode = new int[17], _firstIndex = new int[17];
    /// <summary>Indexed by the next <see cref="FastBits"/> bits: code length &lt;&lt; 8 | value, or 0 for a longer code.</summary>
    private readonly ushort[] _fast = new ushort[1 << FastBits];
    private byte[] _values = [];

    private short[]? _fastAc;

    /// <summary>How many symbols the table codes.</summary>
    public int Count => _values.Length;

    /// <summary>
    /// Bits the AC fast table (<see cref="FastAc"/>) looks at: 11, so that most codes of a high-quality file fit with
    /// their coefficient bits (a code of up to 8 bits and a value of up to 3 bits, or shorter codes with bigger values),
    /// while the table (2,048 shorts) stays small enough to keep in the first-level cache.
    /// </summary>
    public const int FastAcBits = 11;

    /// <summary>
    /// For an AC table, indexed by the next <see cref="FastAcBits"/> bits: when they hold a whole code and the
    /// coefficient bits after it, <c>value &lt;&lt; 8 | run &lt;&lt; 4 | (code length + size)</c> with the value already
    /// sign-extended (JPEG F.2.2.1), else 0 (stb_image's fast_ac, on more bits). Built on first use; the table never
    /// changes after.
    /// </summary>
    public short[] FastAc
    {
        get
        {
            if (_fastAc is { } built) return built;
            var fast = new short[1 << FastAcBits];
            for (int i = 0; i < fast.Length; i++)
            {
                var (rs, length) = Lookup(i << (16 - FastAcBits));
                if (rs < 0) continue;
                int run = rs >> 4, size = rs & 15;
                if (size == 0 || length + size > FastAcBits) continue;
                int raw = ((i << length) & ((1 << FastAcBits) - 1)) >> (FastAcBits - size);
                int value = raw < 1 << (size - 1) ? raw - (1 << size) + 1 : raw;
                if (value is >= -128 and <= 127) fast[i] = (short)(value * 256 + run * 16 + length + size);
            }
            return _fastAc = fast;
        }
    }

    /// <summary>Builds the table; null when the counts ask for more codes of some length than exist.</summary>
    public static JpegHuffmanTable? Build(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> values)
    {
        var t = new JpegHuffmanTable { _values = values.ToArray() };
        int code = 0, index = 0;
        for (int length = 1; length <= 16; length++)
        {
            int n = counts[length - 1];
            t._maxCode[length] = n == 0 ? -1 : code + n - 1;
            t._minCode[length] = code;
            t._firstIndex[length] = index;
            if (code + n > 1 << length) return null;
            for (int i = 0; i < n && length <= FastBits; i++)
            {
                int first = (code + i) << (FastBits - length);
                t._fast.AsSpan(first, 1 << (FastBits - length)).Fill((ushort)(length << 8 | values[index + i]));
            }
            code = (code + n) << 1;
            index += n;
        }
        return t;
    }

    /// <summary>
    /// The symbol whose code starts <paramref name="next16"/> (the next 16 bits, zero-padded), and its code
    /// length; value -1 when those bits start no code.
    /// </summary>
    public (int Value, int Length) Lookup(int next16)
    {
        int entry = _fast[next16 >> (16 - FastBits)];
        if (entry != 0) return (entry & 0xFF, entry >> 8);
        for (int length = FastBits + 1; length <= 16; length++)
        {
            int code = next16 >> (16 - length);
            if (code <= _maxCode[length]) return (_values[_firstIndex[length] + code - _minCode[length]], length);
        }
        return (-1, 16);
    }
}
