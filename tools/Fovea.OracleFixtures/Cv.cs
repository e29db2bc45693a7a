using OpenCvSharp;

namespace Fovea.OracleFixtures;

/// <summary>Moves float32 planes in and out of OpenCV.</summary>
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
        if (m.Type() != MatType.CV_32FC1) throw new ArgumentException($"expected a CV_32FC1 matrix, got {m.Type()}");
        using var c = m.Clone(); // a clone is continuous
        c.GetArray(out float[] data);
        return data;
    }

    /// <summary>Decodes an image with OpenCV as 8-bit samples in Fovea's planar R, G, B(, A) order (OpenCV keeps B, G, R(, A) interleaved).</summary>
    public static (byte[] Planar, int C, int H, int W) ReadPlanar(string path)
    {
        using var m = Cv2.ImRead(path, ImreadModes.Unchanged);
        if (m.Empty()) throw new FileNotFoundException("OpenCV cannot read " + path, path);
        if (m.Depth() != MatType.CV_8U) throw new InvalidDataException($"{path}: expected 8-bit samples, OpenCV decoded depth {m.Depth()}");
        int c = m.Channels(), h = m.Rows, w = m.Cols;
        var interleaved = new byte[c * h * w];
        using (var cont = m.Clone()) System.Runtime.InteropServices.Marshal.Copy(cont.Data, interleaved, 0, interleaved.Length);
        int[] order = c >= 3 ? [2, 1, 0, 3] : [0, 1];
        var planar = new byte[interleaved.Length];
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < h * w; i++)
                planar[ch * h * w + i] = interleaved[i * c + order[ch]];
        return (planar, c, h, w);
    }
}
