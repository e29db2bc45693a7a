namespace Fovea.Vision.Imaging;

/// <summary>
/// A read-only stream over a byte array whose position never leaves <c>[0, Length]</c>: a seek past either end stops
/// at that end. StbImageSharp skips a declared segment length with <c>Seek(n, Current)</c> and tests for the end of
/// input with <c>Position == Length</c>; over a <see cref="MemoryStream"/> a skip past the end leaves Position above
/// Length, the end test never becomes true, and the JPEG marker search (which reads 0 at the end) spins forever.
/// Clamping makes every skip that runs off the file land exactly on the end, so the decoder sees it.
/// </summary>
internal sealed class ClampedReadStream(byte[] data) : Stream
{
    private long _position;

    public override bool CanRead => true;
    public override bool CanSeek => true;
    public override bool CanWrite => false;
    public override long Length => data.Length;

    public override long Position
    {
        get => _position;
        set => _position = Math.Clamp(value, 0, data.Length);
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int n = (int)Math.Min(buffer.Length, data.Length - _position);
        data.AsSpan((int)_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override int ReadByte() => _position < data.Length ? data[_position++] : -1;

    public override long Seek(long offset, SeekOrigin origin)
    {
        long from = origin switch
        {
            SeekOrigin.Begin => 0,
            SeekOrigin.Current => _position,
            SeekOrigin.End => data.Length,
            _ => throw new ArgumentOutOfRangeException(nameof(origin)),
        };
        // Saturating add: an adversarial offset near long.MaxValue must not wrap below zero.
        long target = offset > 0 && from > long.MaxValue - offset ? long.MaxValue : from + offset;
        Position = target;
        return _position;
    }

    public override void Flush() { }
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
