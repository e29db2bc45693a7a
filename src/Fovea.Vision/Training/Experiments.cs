using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;

namespace Fovea.Vision.Training;

/// <summary>The XOR experiment's outcome.</summary>
/// <param name="Inputs">The four inputs.</param>
/// <param name="Predictions">The network's output for each input.</param>
/// <param name="Loss">Final mean squared error.</param>
/// <param name="Correct">Inputs whose output rounds to the XOR (threshold 0.5).</param>
/// <param name="Attempts">Initialisations tried (a 2-2-1 network sometimes starts in a local minimum).</param>
/// <param name="Picture">The decision surface over [−0.5, 1.5]² with the four points.</param>
public sealed record XorResult(double[][] Inputs, double[] Predictions, double Loss, int Correct, int Attempts, Canvas Picture);

/// <summary>The function-fitting experiment's outcome.</summary>
/// <param name="Function">The target function's name.</param>
/// <param name="Hidden">Hidden tanh units.</param>
/// <param name="X">The 50 sample points.</param>
/// <param name="Target">The function at the points.</param>
/// <param name="Fit">The network at the points.</param>
/// <param name="Loss">Final mean squared error.</param>
/// <param name="Picture">Points and fitted curve.</param>
public sealed record FitResult(string Function, int Hidden, double[] X, double[] Target, double[] Fit, double Loss, Canvas Picture);

/// <summary>The inpainting experiment's outcome (errors are mean squared, on pixels in [0, 1]).</summary>
/// <param name="TrainSamples">Training images used.</param>
/// <param name="Epochs">Epochs trained.</param>
/// <param name="TestLoss">Error of the prediction on held-out images.</param>
/// <param name="HoleLoss">Error of the prediction inside the masked squares.</param>
/// <param name="HoleBaseline">Error inside the squares of the masked input itself (zeros).</param>
/// <param name="Picture">Rows of masked input, prediction and ground truth.</param>
public sealed record InpaintResult(int TrainSamples, int Epochs, double TestLoss, double HoleLoss, double HoleBaseline, Canvas Picture);

/// <summary>
/// The seeds' small experiments: a 2-2-1 tanh network learning XOR, a one-hidden-layer network fitting a function
/// of one variable (the "representational power" figure), and an MLP restoring masked Fashion-MNIST images.
/// </summary>
public static class Experiments
{
    /// <summary>The functions <see cref="Fit"/> knows.</summary>
    public static readonly string[] Functions = ["square", "sin", "abs", "step"];

    /// <summary>
    /// Trains a 2-2-1 network (tanh hidden layer, linear output, float64) on XOR with full-batch Adam and the L2
    /// loss, re-initialising with the next seed when it lands in a local minimum (at most 20 tries).
    /// </summary>
    public static XorResult Xor(ulong seed = 0, int steps = 1500)
    {
        double[][] inputs = [[0, 0], [0, 1], [1, 0], [1, 1]];
        var x = Tensor.FromArray(new double[] { 0, 0, 0, 1, 1, 0, 1, 1 }, 4, 2);
        var y = Tensor.FromArray(new double[] { 0, 1, 1, 0 }, 4, 1);
        var mse = new MSELoss();
        Sequential net = null!;
        double loss = double.NaN;
        double[] pred = [];
        int attempt = 0, correct = 0;
        while (attempt < 20)
        {
            var g = new Generator(seed + (ulong)attempt++);
            net = new Sequential(new Linear(2, 2, generator: g, dtype: DType.Float64), new Tanh(), new Linear(2, 1, generator: g, dtype: DType.Float64));
            var opt = new Adam(net.Parameters(), lr: 0.05);
            for (int s = 0; s < steps; s++)
            {
                opt.ZeroGrad();
                var l = mse.Forward(net.Forward(x), y);
                l.Backward();
                opt.Step();
            }
            using (GradMode.Disable())
            {
                var outp = net.Forward(x);
                loss = mse.Forward(outp, y).ToScalar();
                pred = outp.Contiguous().ToArray<double>();
            }
            correct = Enumerable.Range(0, 4).Count(i => (pred[i] > 0.5) == (y[i, 0] > 0.5));
            if (correct == 4 && loss < 0.01) break;
        }

        // Decision surface: the output over a grid, blue (0) to orange (1).
        const int size = 240, top = 30;
        var canvas = new Canvas(size, size + top);
        canvas.Text((size - Canvas.TextWidth("XOR: 2-2-1 TANH")) / 2, 8, "XOR: 2-2-1 TANH", Rgb.Black);
        var grid = new double[size * size * 2];
        double Coord(int p) => -0.5 + 2.0 * (p + 0.5) / size;
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                grid[(r * size + c) * 2] = Coord(c);
                grid[(r * size + c) * 2 + 1] = Coord(size - 1 - r);
            }
        double[] z;
        using (GradMode.Disable()) z = net.Forward(Tensor.FromArray(grid, size * size, 2)).Contiguous().ToArray<double>();
        var light0 = Rgb.Lerp(Rgb.Blue, Rgb.White, 0.55);
        var light1 = Rgb.Lerp(Rgb.Orange, Rgb.White, 0.55);
        for (int r = 0; r < size; r++)
            for (int c = 0; c < size; c++)
            {
                double v = z[r * size + c];
                canvas.Set(c, top + r, Math.Abs(v - 0.5) < 0.01 ? Rgb.Black : Rgb.Lerp(light0, light1, v));
            }
        for (int i = 0; i < 4; i++)
        {
            int px = (int)((inputs[i][0] + 0.5) / 2 * size), py = top + size - 1 - (int)((inputs[i][1] + 0.5) / 2 * size);
            canvas.Disc(px, py, 8, Rgb.Black);
            canvas.Disc(px, py, 6, y[i, 0] > 0.5 ? Rgb.Orange : Rgb.Blue);
        }
        return new XorResult(inputs, pred, loss, correct, attempt, canvas);
    }

    /// <summary>The target function <paramref name="name"/> at <paramref name="x"/>.</summary>
    public static double Target(string name, double x) => name switch
    {
        "square" => x * x,
        "sin" => Math.Sin(Math.PI * x),
        "abs" => Math.Abs(x),
        "step" => x < 0 ? 0 : 1,
        _ => throw new ArgumentException($"unknown function '{name}' (choose {string.Join(", ", Functions)})"),
    };

    /// <summary>
    /// Fits <paramref name="function"/> at 50 points on (−1, 1) with a 1-H-1 network (tanh hidden units, linear output,
    /// float64), full-batch Adam on the L2 loss; plots the points and the fitted curve.
    /// </summary>
    public static FitResult Fit(string function, int hidden = 3, ulong seed = 0, int steps = 4000)
    {
        if (hidden < 1) throw new ArgumentException($"hidden must be at least 1, got {hidden}");
        Target(function, 0);
        const int n = 50;
        var xs = Enumerable.Range(0, n).Select(i => -1 + 2 * (i + 0.5) / n).ToArray();
        var ts = xs.Select(v => Target(function, v)).ToArray();
        var x = Tensor.FromArray(xs, n, 1);
        var t = Tensor.FromArray(ts, n, 1);
        var g = new Generator(seed);
        var net = new Sequential(new Linear(1, hidden, generator: g, dtype: DType.Float64), new Tanh(), new Linear(hidden, 1, generator: g, dtype: DType.Float64));
        var mse = new MSELoss();
        var opt = new Adam(net.Parameters(), lr: 0.03);
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            mse.Forward(net.Forward(x), t).Backward();
            opt.Step();
        }
        double[] fit, dense;
        double loss;
        var dx = Enumerable.Range(0, 201).Select(i => -1 + i / 100.0).ToArray();
        using (GradMode.Disable())
        {
            var outp = net.Forward(x);
            loss = mse.Forward(outp, t).ToScalar();
            fit = outp.Contiguous().ToArray<double>();
            dense = net.Forward(Tensor.FromArray(dx, dx.Length, 1)).Contiguous().ToArray<double>();
        }
        var canvas = new Canvas(480, 340);
        Charts.Line(canvas, 0, 0, 480, 340, $"{function} WITH {hidden} TANH UNITS", [
            new Series("DATA", Rgb.Blue, xs, ts, Points: true),
            new Series("NETWORK", Rgb.Red, dx, dense),
        ], (-1, 1));
        return new FitResult(function, hidden, xs, ts, fit, loss, canvas);
    }

    /// <summary>
    /// Trains an MLP (784-H-H-784, ReLU, sigmoid output) with the L2 loss to map Fashion-MNIST images with a random
    /// <paramref name="maskSize"/>² square zeroed back to the complete images; evaluates on held-out images and draws
    /// <paramref name="examples"/> of them as masked / predicted / ground truth.
    /// </summary>
    public static InpaintResult Inpaint(MnistData data, int trainSamples = 10000, int epochs = 5, int hidden = 256, int maskSize = 12,
        int batchSize = 64, ulong seed = 0, int examples = 8, int testSamples = 1000)
    {
        int h = data.TrainImages.Size(2), w = data.TrainImages.Size(3), d = h * w;
        if (maskSize < 1 || maskSize > Math.Min(h, w)) throw new ArgumentException($"mask size must be in [1, {Math.Min(h, w)}], got {maskSize}");
        int nTrain = Math.Min(trainSamples, data.TrainImages.Size(0)), nTest = Math.Min(testSamples, data.TestImages.Size(0));
        var train = data.TrainImages.Narrow(0, 0, nTrain).Reshape(nTrain, d).Contiguous().ToArray<float>();
        var test = data.TestImages.Narrow(0, 0, nTest).Reshape(nTest, d).Contiguous().ToArray<float>();
        var g = new Generator(seed);
        var net = new Sequential(
            new Linear(d, hidden, generator: g), new ReLU(),
            new Linear(hidden, hidden, generator: g), new ReLU(),
            new Linear(hidden, d, generator: g), new Sigmoid());
        var opt = new Adam(net.Parameters(), lr: 1e-3);
        var mse = new MSELoss();
        var rng = new Generator(seed + 1);

        for (int e = 0; e < epochs; e++)
        {
            var order = new Generator(seed).SelectStream(e + 1).Permutation(nTrain);
            for (int start = 0; start < nTrain; start += batchSize)
            {
                int n = Math.Min(batchSize, nTrain - start);
                var clean = new float[n * d];
                for (int i = 0; i < n; i++) train.AsSpan(order[start + i] * d, d).CopyTo(clean.AsSpan(i * d, d));
                var masked = Mask(clean, n, h, w, maskSize, rng, out _);
                opt.ZeroGrad();
                mse.Forward(net.Forward(Tensor.FromArray(masked, n, d)), Tensor.FromArray(clean, n, d)).Backward();
                opt.Step();
            }
        }

        var testRng = new Generator(seed + 2);
        var testMasked = Mask(test, nTest, h, w, maskSize, testRng, out var hole);
        float[] pred;
        using (GradMode.Disable()) pred = net.Forward(Tensor.FromArray(testMasked, nTest, d)).Contiguous().ToArray<float>();
        double all = 0, inHole = 0, baseline = 0;
        long holeCount = 0;
        for (int i = 0; i < pred.Length; i++)
        {
            double err = pred[i] - test[i];
            all += err * err;
            if (!hole[i]) continue;
            inHole += err * err;
            baseline += (double)test[i] * test[i];
            holeCount++;
        }

        int k = Math.Min(examples, nTest), scale = 3, cell = h * scale + 4, labelWidth = 112;
        var canvas = new Canvas(labelWidth + k * cell, 8 + 3 * cell);
        string[] rows = ["MASKED", "PREDICTED", "TRUTH"];
        for (int r = 0; r < 3; r++)
        {
            canvas.Text(6, 4 + r * cell + cell / 2 - 5, rows[r], Rgb.Black);
            var src = r switch { 0 => testMasked, 1 => pred, _ => test };
            for (int i = 0; i < k; i++)
            {
                int x0 = labelWidth + i * cell, y0 = 4 + r * cell;
                canvas.Gray(x0, y0, src.AsSpan(i * d, d), h, w, scale);
                if (r == 0) MarkHole(canvas, x0, y0, hole.AsSpan(i * d, d), h, w, scale);
            }
        }
        return new InpaintResult(nTrain, epochs, all / pred.Length, inHole / Math.Max(1, holeCount), baseline / Math.Max(1, holeCount), canvas);
    }

    private static float[] Mask(float[] images, int n, int h, int w, int m, Generator rng, out bool[] hole)
    {
        var masked = (float[])images.Clone();
        hole = new bool[images.Length];
        for (int i = 0; i < n; i++)
        {
            int top = rng.NextInt(h - m + 1), left = rng.NextInt(w - m + 1);
            for (int r = top; r < top + m; r++)
                for (int c = left; c < left + m; c++)
                {
                    int j = i * h * w + r * w + c;
                    masked[j] = 0;
                    hole[j] = true;
                }
        }
        return masked;
    }

    private static void MarkHole(Canvas canvas, int x0, int y0, ReadOnlySpan<bool> hole, int h, int w, int scale)
    {
        // Outline the hole in red so that a zeroed square on a black background is still visible.
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++)
            {
                if (!hole[r * w + c]) continue;
                bool edge = r == 0 || c == 0 || r == h - 1 || c == w - 1 || !hole[(r - 1) * w + c] || !hole[(r + 1) * w + c] || !hole[r * w + c - 1] || !hole[r * w + c + 1];
                if (edge) canvas.Fill(x0 + c * scale, y0 + r * scale, x0 + (c + 1) * scale, y0 + (r + 1) * scale, Rgb.Red);
            }
    }
}
