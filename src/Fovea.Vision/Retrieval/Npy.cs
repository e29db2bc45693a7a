using System.Globalization;
using System.Text;

namespace Fovea.Vision.Retrieval;

/// <summary>
/// The header of NumPy's <c>.npy</c> format, version 1.0: the magic <c>\x93NUMPY</c>, version bytes 1 0, a
/// little-endian 16-bit header length, then a Python dict literal (<c>descr</c>, <c>fortran_order</c>, <c>shape</c>)
/// padded with spaces and ended by a newline so that the data starts on a 64-byte boundary; the data follows in C order.
/// </summary>
public static class Npy
{
    /// <summary>Writes the header of a C-order array of dtype <paramref name="descr"/> (e.g. <c>&lt;f4</c>) and shape [rows, columns].</summary>
    public static void WriteHeader(Stream stream, string descr, long rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(stream);
        string dict = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
        int unpadded = 10 + dict.Length + 1;
        int total = (unpadded + 63) / 64 * 64;
        var header = new StringBuilder(dict).Append(' ', total - unpadded).Append('\n').ToString();
        Span<byte> prefix = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)(header.Length & 0xFF), (byte)(header.Length >> 8)];
        stream.Write(prefix);
        stream.Write(Encoding.ASCII.GetBytes(header));
    }
}
