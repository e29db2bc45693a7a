using Fovea.Backends;
using Fovea.Vision;
using OpenCvSharp;

namespace Fovea.Bench;

/// <summary>
/// The multi-scale vision cases against OpenCvSharp on the same float32 data and thread count (<c>Cv2.SetNumThreads</c>).
/// Fovea runs its public tensor API (<see cref="Pyramids"/>, <see cref="Matching"/>), which allocates its outputs on every
/// call as users see it; OpenCV writes into Mats allocated once in <see cref="BenchCase.Setup"/>.
/// </summary>
public static class VisionCases
{
    /// <summary>Gaussian pyramid 2048² → 8x8, Laplacian build + reconstruct 2048², NCC of a 64x64 template in 2048².</summary>
    public static IEnumerable<BenchCase> All() =>
        [new GaussianPyramidCase(2048, 8), new LaplacianCase(2048, 8), new NccCase(2048, 64)];

    internal static float[] Image(int size, int seed)
    {
        // A smooth field plus noise: natural-image-like statistics, so NCC windows are never flat.
        var rng = new Random(seed);
        var a = new float[size * size];
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                a[y * size + x] = (float)(0.5 + 0.25 * Math.Sin(x * 0.013) * Math.Cos(y * 0.021) + 0.2 * rng.NextDouble());
        return a;
    }

    internal static Mat ToMat(float[] data, int width, int height)
    {
        var m = new Mat(height, width, MatType.CV_32FC1);
        m.SetArray(data);
        return m;
    }

    /// <summary>Levels from <paramref name="size"/> down to <paramref name="smallest"/> (2048 → 8: 9 levels).</summary>
    internal static int Levels(int size, int smallest)
    {
        int n = 1;
        for (int s = size; s > smallest; s = PyramidGeometry.DownSize(s)) n++;
        return n;
    }
}

/// <summary>Gaussian pyramid: a chain of PyrDown from the image to the smallest level, on both sides.</summary>
public sealed class GaussianPyramidCase(int size, int smallest) : BenchCase
{
    private float[] _img = [];
    private Tensor? _image;
    private int _levels;
    private Mat? _cvImg;
    private Mat[] _cvLevels = [];

    /// <inheritdoc/>
    public override string Name => $"gaussian_pyramid_{size}_to_{smallest}";

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        Cv2.SetNumThreads(threads);
        if (_img.Length != 0) return;
        _img = VisionCases.Image(size, 1);
        _image = Tensor.FromArray(_img, 1, size, size);
        _levels = VisionCases.Levels(size, smallest);
        _cvLevels = new Mat[_levels];
        _cvImg = VisionCases.ToMat(_img, size, size);
        for (int i = 1, s = size; i < _levels; i++)
        {
            s = PyramidGeometry.DownSize(s);
            _cvLevels[i] = new Mat(s, s, MatType.CV_32FC1);
        }
    }

    /// <inheritdoc/>
    public override void RunFovea() => Harness.HandBack(Pyramids.GaussianPyramid(_image!, _levels)[1..]); // level 0 is the image

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        Mat src = _cvImg!;
        for (int i = 1; i < _cvLevels.Length; i++)
        {
            Cv2.PyrDown(src, _cvLevels[i], _cvLevels[i].Size());
            src = _cvLevels[i];
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _cvImg?.Dispose();
        foreach (var m in _cvLevels) m?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// Laplacian pyramid build (L_i = G_i − PyrUp(G_{i+1})) and reconstruction, down to the smallest level. OpenCV side: pyrDown
/// chain, pyrUp + subtract per band, then pyrUp + add per level, all into preallocated Mats.
/// </summary>
public sealed class LaplacianCase(int size, int smallest) : BenchCase
{
    private float[] _img = [];
    private Tensor? _image;
    private int _levels;
    private Mat? _cvImg;
    private Mat[] _g = [], _up = [], _lap = [], _rec = [];

    /// <inheritdoc/>
    public override string Name => $"laplacian_build_reconstruct_{size}";

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        Cv2.SetNumThreads(threads);
        if (_img.Length != 0) return;
        _img = VisionCases.Image(size, 2);
        _image = Tensor.FromArray(_img, 1, size, size);
        int levels = _levels = VisionCases.Levels(size, smallest);
        _cvImg = VisionCases.ToMat(_img, size, size);
        _g = new Mat[levels];
        _up = new Mat[levels];
        _lap = new Mat[levels];
        _rec = new Mat[levels];
        for (int i = 0, s = size; i < levels; i++, s = PyramidGeometry.DownSize(s))
        {
            _g[i] = i == 0 ? _cvImg : new Mat(s, s, MatType.CV_32FC1);
            _up[i] = new Mat(s, s, MatType.CV_32FC1);
            _lap[i] = new Mat(s, s, MatType.CV_32FC1);
            _rec[i] = new Mat(s, s, MatType.CV_32FC1);
        }
    }

    /// <inheritdoc/>
    public override void RunFovea()
    {
        var laplacian = Pyramids.LaplacianPyramid(_image!, _levels);
        Harness.HandBack([Pyramids.Reconstruct(laplacian), .. laplacian]);
    }

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        int n = _g.Length;
        for (int i = 1; i < n; i++) Cv2.PyrDown(_g[i - 1], _g[i], _g[i].Size());
        for (int i = 0; i < n - 1; i++)
        {
            Cv2.PyrUp(_g[i + 1], _up[i], _g[i].Size());
            Cv2.Subtract(_g[i], _up[i], _lap[i]);
        }
        // The residual is G_{n−1} itself; collapse: R_i = L_i + PyrUp(R_{i+1}).
        Mat r = _g[n - 1];
        for (int i = n - 2; i >= 0; i--)
        {
            Cv2.PyrUp(r, _up[i], _lap[i].Size());
            Cv2.Add(_lap[i], _up[i], _rec[i]);
            r = _rec[i];
        }
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        foreach (var m in _g.Concat(_up).Concat(_lap).Concat(_rec)) m?.Dispose();
        base.Dispose();
    }
}

/// <summary>NCC (TM_CCOEFF_NORMED) of a template cut from the image, into a preallocated score map on both sides.</summary>
public sealed class NccCase(int size, int template) : BenchCase
{
    private float[] _img = [], _tpl = [];
    private Tensor? _image, _template, _result;
    private Mat? _cvImg, _cvTpl, _cvResult;

    /// <inheritdoc/>
    public override string Name => $"ncc_{template}_in_{size}";

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        Cv2.SetNumThreads(threads);
        if (_img.Length != 0) return;
        _img = VisionCases.Image(size, 3);
        _tpl = new float[template * template];
        for (int y = 0; y < template; y++)
            Array.Copy(_img, (size / 3 + y) * size + size / 2, _tpl, y * template, template);
        int o = size - template + 1;
        _image = Tensor.FromArray(_img, size, size);
        _template = Tensor.FromArray(_tpl, template, template);
        _result = Tensor.Zeros([o, o]);
        _cvImg = VisionCases.ToMat(_img, size, size);
        _cvTpl = VisionCases.ToMat(_tpl, template, template);
        _cvResult = new Mat(o, o, MatType.CV_32FC1);
    }

    /// <inheritdoc/>
    public override void RunFovea() => Matching.MatchTemplate(_image!, _template!, _result!, TemplateMatchMethod.CCoeffNormed);

    /// <inheritdoc/>
    public override void RunAnchor() => Cv2.MatchTemplate(_cvImg!, _cvTpl!, _cvResult!, TemplateMatchModes.CCoeffNormed);

    /// <inheritdoc/>
    public override void Dispose()
    {
        _cvImg?.Dispose();
        _cvTpl?.Dispose();
        _cvResult?.Dispose();
        base.Dispose();
    }
}
