namespace Fovea.Tests.Backends.Conformance;

/// <summary>Draws a value for one element.</summary>
public delegate double Draw(Random rng);

/// <summary>
/// Random inputs for conformance cases: random shapes, and tensors laid out in storage at random (contiguous, offset,
/// permuted, stepped, broadcast with stride 0, or all of these at once). Storage between the viewed elements holds
/// values too, so a backend that reads a gap gets a wrong answer rather than a lucky zero. Values and index tensors
/// are read and written here element by element, through strides, without any backend.
/// </summary>
public static class CaseTensors
{
    private enum Layout { Contiguous, Offset, Permuted, Stepped, Broadcast, Mixed }

    /// <summary>Standard normal values (floats), integers in [-9, 9] (Int32), or fair coins (Bool) — the default draw.</summary>
    public static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>Small integers in [-3, 3]: many exact ties (arg-reductions, pooling, comparisons) and exact sums.</summary>
    public static double Ties(Random rng) => rng.Next(-3, 4);

    /// <summary>Values in [0.05, 3], the domain of log, sqrt and rsqrt.</summary>
    public static double Positive(Random rng) => 0.05 + 2.95 * rng.NextDouble();

    /// <summary><paramref name="draw"/>, but one element in <paramref name="oneIn"/> is NaN, ±∞ or ±0.</summary>
    public static Draw WithSpecials(Draw draw, int oneIn = 12) => rng =>
        rng.Next(oneIn) != 0 ? draw(rng) : rng.Next(5) switch
        {
            0 => double.NaN,
            1 => double.PositiveInfinity,
            2 => double.NegativeInfinity,
            3 => 0.0,
            _ => -0.0,
        };

    /// <summary>A shape of rank in [<paramref name="minRank"/>, <paramref name="maxRank"/>] with sizes in [1, <paramref name="maxDim"/>].</summary>
    public static int[] Shape(Random rng, int minRank, int maxRank, int maxDim)
    {
        var shape = new int[rng.Next(minRank, maxRank + 1)];
        for (int d = 0; d < shape.Length; d++) shape[d] = rng.Next(1, maxDim + 1);
        return shape;
    }

    /// <summary>
    /// Shapes for a sweep: edge cases first (0-d, one element, empty at the front, middle and end) when rank allows,
    /// then <paramref name="random"/> random shapes.
    /// </summary>
    public static IEnumerable<int[]> Shapes(Random rng, int minRank, int maxRank, int maxDim, int random)
    {
        int[][] edges = [[], [1], [1, 1], [0], [0, 3], [2, 0, 3], [3, 0]];
        foreach (var e in edges)
            if (e.Length >= minRank && e.Length <= maxRank) yield return e;
        for (int i = 0; i < random; i++) yield return Shape(rng, minRank, maxRank, maxDim);
    }

    /// <summary>A shape that broadcasts to <paramref name="shape"/>: some leading dims dropped, some dims set to 1.</summary>
    public static int[] BroadcastFrom(Random rng, int[] shape)
    {
        int drop = rng.Next(3) == 0 ? rng.Next(shape.Length + 1) : 0;
        var result = shape[drop..];
        for (int d = 0; d < result.Length; d++)
            if (rng.Next(3) == 0) result[d] = 1;
        return result;
    }

    /// <summary>A random tensor of <paramref name="shape"/> in a random layout (stride-0 broadcast allowed unless <paramref name="broadcast"/> is false).</summary>
    public static Tensor Make(Random rng, int[] shape, DType dtype, Draw? draw = null, bool broadcast = true)
    {
        draw ??= DefaultDraw(dtype);
        return Lay(rng, shape, dtype, PickLayout(rng, broadcast), broadcast, (_, r) => draw(r), draw);
    }

    /// <summary>A random contiguous tensor (offset 0): the fast paths that only plain tensors take.</summary>
    public static Tensor Contiguous(Random rng, int[] shape, DType dtype, Draw? draw = null)
    {
        draw ??= DefaultDraw(dtype);
        return Lay(rng, shape, dtype, Layout.Contiguous, broadcast: false, (_, r) => draw(r), draw);
    }

    /// <summary>
    /// A random dense tensor (contiguous strides) at a random storage offset, with storage to spare after it: the
    /// layouts of primitives that require contiguous operands.
    /// </summary>
    public static Tensor Dense(Random rng, int[] shape, DType dtype, Draw? draw = null)
    {
        draw ??= DefaultDraw(dtype);
        return Lay(rng, shape, dtype, rng.Next(2) == 0 ? Layout.Contiguous : Layout.Offset, broadcast: false, (_, r) => draw(r), draw);
    }

    /// <summary>A dense tensor at a random offset holding <paramref name="values"/> (row-major).</summary>
    public static Tensor Dense(Random rng, int[] shape, DType dtype, double[] values) =>
        Lay(rng, shape, dtype, rng.Next(2) == 0 ? Layout.Contiguous : Layout.Offset, broadcast: false, (flat, _) => values[flat], DefaultDraw(dtype));

    /// <summary>The values of <paramref name="values"/> copied into a random layout without broadcast dims.</summary>
    public static Tensor Relayout(Random rng, Tensor values)
    {
        var v = Read(values);
        return Lay(rng, values.Shape, values.DType, PickLayout(rng, broadcast: false), broadcast: false, (flat, _) => v[flat], DefaultDraw(values.DType));
    }

    /// <summary>An Int32 index tensor of <paramref name="shape"/> with values in [0, <paramref name="bound"/>), in a random layout.</summary>
    public static Tensor Index(Random rng, int[] shape, int bound) =>
        Make(rng, shape, DType.Int32, r => r.Next(Math.Max(bound, 1)), broadcast: true);

    /// <summary>
    /// <paramref name="index"/>'s values in a random layout, but one entry out of [0, <paramref name="bound"/>): the bound
    /// itself, −1 or far beyond. <paramref name="index"/> must not be empty.
    /// </summary>
    public static Tensor OutOfRange(Random rng, Tensor index, int bound)
    {
        var values = Read(index).Select(v => (int)v).ToArray();
        values[rng.Next(values.Length)] = rng.Next(3) switch { 0 => bound, 1 => -1, _ => bound + 1000 };
        return Relayout(rng, Tensor.FromArray(values, index.Shape));
    }

    /// <summary>The default draw of a dtype: <see cref="Normal"/> floats, integers in [-9, 9], or coins.</summary>
    public static Draw DefaultDraw(DType dtype) => dtype switch
    {
        DType.Int32 => r => r.Next(-9, 10),
        DType.Bool => r => r.Next(2),
        _ => Normal,
    };

    private static Layout PickLayout(Random rng, bool broadcast)
    {
        var layouts = broadcast ? Enum.GetValues<Layout>() : Enum.GetValues<Layout>().Where(l => l != Layout.Broadcast).ToArray();
        return layouts[rng.Next(layouts.Length)];
    }

    private static Tensor Lay(Random rng, int[] shape, DType dtype, Layout layout, bool broadcast, Func<int, Random, double> value, Draw gap)
    {
        int rank = shape.Length;
        bool mixed = layout == Layout.Mixed;

        var order = Enumerable.Range(0, rank).ToArray(); // memory order, outermost first
        if (layout == Layout.Permuted || mixed) rng.Shuffle(order);
        var strides = new int[rank];
        var zero = new bool[rank];
        if (layout == Layout.Broadcast || (mixed && broadcast))
        {
            var candidates = Enumerable.Range(0, rank).Where(d => shape[d] > 1).ToArray();
            foreach (int d in candidates) zero[d] = rng.Next(2) == 0;
            if (layout == Layout.Broadcast && candidates.Length > 0 && !zero.Any(z => z)) zero[candidates[rng.Next(candidates.Length)]] = true;
        }
        int running = 1;
        for (int i = rank - 1; i >= 0; i--)
        {
            int d = order[i];
            if (zero[d]) continue;
            int step = layout == Layout.Stepped || mixed ? rng.Next(1, 4) : 1;
            strides[d] = running * step;
            running = strides[d] * Math.Max(shape[d], 1);
        }
        int offset = layout is Layout.Offset or Layout.Mixed || (layout != Layout.Contiguous && rng.Next(2) == 0) ? rng.Next(1, 6) : 0;
        long numel = 1;
        foreach (int s in shape) numel *= s;
        int span = 0;
        if (numel > 0)
        {
            span = 1;
            for (int d = 0; d < rank; d++) span += (shape[d] - 1) * strides[d];
        }
        var storage = Storage.Allocate(dtype, offset + span + rng.Next(3));
        var t = new Tensor(storage, (int[])shape.Clone(), strides, offset);
        for (int i = 0; i < storage.Length; i++) Set(t, i, gap(rng));
        for (int flat = 0; flat < numel; flat++) Set(t, t.StorageIndexOf(flat), value(flat, rng));
        return t;
    }

    private static void Set(Tensor t, int storageIndex, double v)
    {
        switch (t.DType)
        {
            case DType.Float32: t.Storage.As<float>()[storageIndex] = (float)v; break;
            case DType.Float64: t.Storage.As<double>()[storageIndex] = v; break;
            case DType.Int32: t.Storage.As<int>()[storageIndex] = (int)v; break;
            default: t.Storage.As<bool>()[storageIndex] = v != 0; break;
        }
    }

    /// <summary>The elements as float64 in row-major order, read through the strides (no backend involved).</summary>
    public static double[] Read(Tensor t)
    {
        var v = new double[t.Numel];
        for (int flat = 0; flat < v.Length; flat++) v[flat] = t.GetAsDouble(t.StorageIndexOf(flat));
        return v;
    }

    /// <summary>A contiguous copy holding |x| (floats) or <paramref name="t"/> itself (indices, masks).</summary>
    public static Tensor AbsoluteValues(Tensor t)
    {
        if (!t.DType.IsFloating()) return t;
        var v = Read(t);
        var y = new Tensor(Storage.Allocate(t.DType, v.Length), t.Shape);
        for (int i = 0; i < v.Length; i++) Set(y, i, Math.Abs(v[i]));
        return y;
    }

    /// <summary>A copy of <paramref name="t"/>'s whole storage viewed with the same shape, strides and offset.</summary>
    public static Tensor CloneStorage(Tensor t)
    {
        var storage = Storage.Allocate(t.DType, t.Storage.Length);
        Array.Copy(t.Storage.Data, storage.Data, t.Storage.Length);
        return new Tensor(storage, t.Shape, t.Strides, t.Offset);
    }

    /// <summary>A view of <paramref name="t"/> with its dims reordered: result dim d is <paramref name="t"/>'s dim perm[d].</summary>
    public static Tensor Permute(Tensor t, params int[] perm) =>
        new(t.Storage, perm.Select(d => t.Shape[d]).ToArray(), perm.Select(d => t.Strides[d]).ToArray(), t.Offset);

    /// <summary>The whole storage of <paramref name="t"/> as a 1-d tensor (to see writes outside a view).</summary>
    public static Tensor WholeStorage(Tensor t) => new(t.Storage, [t.Storage.Length]);

    /// <summary>"float32[2, 3] strides [1, 2] offset 1".</summary>
    public static string Describe(Tensor t) =>
        $"{t.DType.Name()}{ShapeChecks.Format(t.Shape)}" + (t.IsContiguous && t.Offset == 0 ? "" : $" strides {ShapeChecks.Format(t.Strides)} offset {t.Offset}");
}
