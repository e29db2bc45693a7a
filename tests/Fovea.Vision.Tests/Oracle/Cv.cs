using OpenCvSharp;

namespace Fovea.Vision.Tests.Oracle;

/// <summary>Moves float planes in and out of OpenCV (the oracle; tests only).</summary>
internal static class Cv
{
    public static Mat FromPlane(float[] data, int width, int height)
    {
        var m = new Mat(height, width, MatType.CV_32FC1);
        m.SetArray(data);
        return m;
    }

    public static float[] ToPlane(Mat m)
    {
        Assert.Equal(MatType.CV_32FC1, m.Type());
        using var c = m.IsContinuous() ? m.Clone() : m.Clone();
        var data = new float[m.Rows * m.Cols];
        c.GetArray(out float[] got);
        Array.Copy(got, data, data.Length);
        return data;
    }

    public static float[] Random(int length, int seed)
    {
        var rng = new Random(seed);
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble();
        return a;
    }

    public static double MaxAbsDiff(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        Assert.Equal(a.Length, b.Length);
        double m = 0;
        for (int i = 0; i < a.Length; i++) m = Math.Max(m, Math.Abs((double)a[i] - b[i]));
        return m;
    }
}
