namespace Fovea.Kernels.Tests;

public class RegisterTransposeTests
{
    [Theory]
    [InlineData(16, 16)]   // one block
    [InlineData(32, 48)]   // whole blocks only
    [InlineData(37, 21)]   // a partial block in both directions
    [InlineData(5, 100)]   // fewer rows than a block: every element one at a time
    [InlineData(100, 16)]  // LeNet's c3: 100 pixels x 16 channels
    [InlineData(8, 8)]     // one 8 x 8 block (without AVX-512)
    [InlineData(13, 21)]   // 8 x 8 blocks with partial ones in both directions, and no whole 16 x 16 one
    [InlineData(256, 64)]  // a run of a stem's outputs: 256 pixels x 64 channels
    public unsafe void Transpose_turns_every_element_and_writes_nothing_else(int rows, int cols)
    {
        // Strides wider than the rows, with sentinels in the gaps, so a read or write past a row shows up.
        long srcStride = cols + 3, dstStride = rows + 5;
        var src = new float[rows * srcStride + 16];
        var dst = new float[cols * dstStride + 16];
        for (int i = 0; i < src.Length; i++) src[i] = i % srcStride < cols && i / srcStride < rows ? i / srcStride * 1000 + i % srcStride : float.NaN;
        Array.Fill(dst, -1f);
        fixed (float* ps = src, pd = dst)
            RegisterTranspose.Transpose(ps, srcStride, pd, dstStride, rows, cols);
        for (int j = 0; j < cols; j++)
            for (int i = 0; i < rows; i++)
                Assert.Equal(i * 1000 + j, dst[j * dstStride + i]);
        for (int k = 0; k < dst.Length; k++)
            if (k % dstStride >= rows || k / dstStride >= cols) Assert.Equal(-1f, dst[k]);
    }
}
