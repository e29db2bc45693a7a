namespace Fovea;

/// <summary>One row of the gradient-check table: an op, how to call it, and the inputs to check it at.</summary>
/// <param name="Name">Op name as printed by <c>fovea gradcheck</c>.</param>
/// <param name="Function">The op applied to the inputs.</param>
/// <param name="Inputs">Makes fresh float64 inputs (requiring grad) from a seed.</param>
/// <param name="SecondOrder">Whether GradGradCheck runs too.</param>
public sealed record GradCheckCase(string Name, Func<Tensor[], Tensor> Function, Func<ulong, Tensor[]> Inputs, bool SecondOrder = true);

/// <summary>
/// The table of every differentiable op with small random inputs, broadcasting and non-contiguous
/// cases: the one list of gradient checks. Tests run it; <c>fovea gradcheck</c> prints it (after it, the vision
/// rows of <c>Fovea.Vision.VisionGradCheckTable</c>). New ops add rows here. It lives above the layers it checks
/// (tensors, ops, NN), so <c>Autograd</c> itself depends on none of them.
/// </summary>
public static partial class GradCheckTable
{
    /// <summary>Standard normal input of <paramref name="shape"/>.</summary>
    public static Tensor N(ulong seed, params int[] shape) => Tensor.Randn(shape, new Generator(seed), DType.Float64).RequiresGrad_();

    /// <summary>Positive input in [0.5, 2) (for log, sqrt, pow, division).</summary>
    public static Tensor P(ulong seed, params int[] shape) => Tensor.Uniform(shape, 0.5, 2, new Generator(seed), DType.Float64).RequiresGrad_();

    /// <summary>A non-contiguous input: the transpose of a normal [cols, rows] tensor, detached so it is a leaf.</summary>
    public static Tensor NT(ulong seed, int rows, int cols) => Tensor.Randn([cols, rows], new Generator(seed), DType.Float64).T.RequiresGrad_();

    /// <summary>Input whose elements are well separated (for max/min/relu/abs: no ties, away from kinks).</summary>
    public static Tensor Distinct(ulong seed, params int[] shape)
    {
        int n = 1;
        foreach (int s in shape) n *= s;
        var perm = new Generator(seed).Permutation(n);
        var values = perm.Select(p => (p - n / 2.0 + 0.5) * 0.37).ToArray();
        return Tensor.FromArray(values, shape).RequiresGrad_();
    }

    private static Tensor Idx(params int[] values) => Tensor.From(values);

    /// <summary>All rows: the tensor core's, then each later family's (one partial file each).</summary>
    public static IReadOnlyList<GradCheckCase> Cases { get; } = [.. CoreCases, .. LayerCases, .. ConvolutionCases];

    /// <summary>Rows for the tensor core's ops.</summary>
    private static GradCheckCase[] CoreCases =>
    [
        new("add (broadcast [3,1,4]+[4])", x => x[0] + x[1], s => [N(s, 3, 1, 4), N(s + 1, 4)]),
        new("add (non-contiguous)", x => x[0] + x[1], s => [NT(s, 3, 4), N(s + 1, 3, 4)]),
        new("sub (broadcast)", x => x[0] - x[1], s => [N(s, 2, 3), N(s + 1, 2, 1)]),
        new("mul (broadcast)", x => x[0] * x[1], s => [N(s, 2, 3), N(s + 1, 3)]),
        new("div", x => x[0] / x[1], s => [N(s, 2, 3), P(s + 1, 2, 3)]),
        new("pow (tensor exponent)", x => x[0].Pow(x[1]), s => [P(s, 2, 3), N(s + 1, 2, 3)]),
        new("pow (scalar exponent)", x => x[0].Pow(3.0), s => [N(s, 2, 3)]),
        new("neg", x => -x[0], s => [N(s, 2, 3)]),
        new("abs", x => x[0].Abs(), s => [Distinct(s, 2, 3)]),
        new("sign", x => x[0].Sign() * x[0], s => [Distinct(s, 2, 3)]),
        new("exp", x => x[0].Exp(), s => [N(s, 2, 3)]),
        new("log", x => x[0].Log(), s => [P(s, 2, 3)]),
        new("sqrt", x => x[0].Sqrt(), s => [P(s, 2, 3)]),
        new("rsqrt", x => x[0].Rsqrt(), s => [P(s, 2, 3)]),
        new("sin", x => x[0].Sin(), s => [N(s, 2, 3)]),
        new("cos", x => x[0].Cos(), s => [N(s, 2, 3)]),
        new("tanh", x => x[0].Tanh(), s => [N(s, 2, 3)]),
        new("sigmoid", x => x[0].Sigmoid(), s => [N(s, 2, 3)]),
        new("relu", x => x[0].Relu(), s => [Distinct(s, 2, 3)]),
        new("square", x => x[0].Square(), s => [N(s, 2, 3)]),
        new("reciprocal", x => x[0].Reciprocal(), s => [P(s, 2, 3)]),
        new("maximum", x => x[0].Maximum(x[1]), s => [Distinct(s, 2, 3), Distinct(s + 7, 3)]),
        new("minimum", x => x[0].Minimum(x[1]), s => [Distinct(s, 2, 3), Distinct(s + 7, 2, 3)]),
        new("clamp", x => x[0].Clamp(-0.5, 0.6), s => [Distinct(s, 3, 3)]),
        new("where", x => Tensor.Where(x[0].Gt(0), x[0], x[1]), s => [Distinct(s, 2, 3), N(s + 1, 3)]),
        new("masked_fill", x => x[0].MaskedFill(x[0].Lt(0), 0.5), s => [Distinct(s, 2, 3)]),
        new("sum (all)", x => x[0].Sum(), s => [N(s, 2, 3)]),
        new("sum (dims 0,2 keepdim)", x => x[0].Sum([0, 2], keepDim: true), s => [N(s, 2, 3, 2)]),
        new("prod (dim 1)", x => x[0].Prod(1), s => [P(s, 2, 3)]),
        new("mean (dim -1)", x => x[0].Mean(-1), s => [N(s, 2, 3)]),
        new("var (dim 1, unbiased)", x => x[0].Var(1), s => [N(s, 2, 4)]),
        new("std (dims 0,1)", x => x[0].Std([0, 1]), s => [N(s, 2, 3)]),
        new("max (all)", x => x[0].Max(), s => [Distinct(s, 2, 3)]),
        new("amin (dim 0)", x => x[0].Amin([0]), s => [Distinct(s, 3, 2)]),
        new("max (dim 1, values)", x => x[0].Max(1).Values, s => [Distinct(s, 2, 4)]),
        new("min (dim 0, keepdim)", x => x[0].Min(0, keepDim: true).Values, s => [Distinct(s, 3, 2)]),
        new("logsumexp (dim 1)", x => x[0].LogSumExp(1), s => [N(s, 2, 4)]),
        new("matmul 2-d", x => x[0].MatMul(x[1]), s => [N(s, 2, 3), N(s + 1, 3, 4)]),
        new("matmul transposed operand", x => x[0].MatMul(x[1]), s => [NT(s, 2, 3), N(s + 1, 3, 2)]),
        new("matmul 1-d · 1-d", x => x[0].MatMul(x[1]), s => [N(s, 3), N(s + 1, 3)]),
        new("matmul 1-d · 2-d", x => x[0].MatMul(x[1]), s => [N(s, 3), N(s + 1, 3, 2)]),
        new("matmul batched broadcast", x => x[0].MatMul(x[1]), s => [N(s, 2, 2, 3), N(s + 1, 3, 2)]),
        new("matmul batch-broadcast both", x => x[0].MatMul(x[1]), s => [N(s, 2, 1, 2, 3), N(s + 1, 3, 3, 2)]),
        new("reshape (non-contiguous)", x => x[0].Reshape(6) * Tensor.Arange(6, DType.Float64), s => [NT(s, 2, 3)]),
        new("permute", x => x[0].Permute(2, 0, 1) * Tensor.Arange(6, DType.Float64).Reshape(2, 1, 3), s => [N(s, 1, 3, 2)]),
        new("transpose", x => x[0].Transpose(0, 1).MatMul(x[0]), s => [N(s, 3, 2)]),
        new("expand", x => x[0].Expand(3, 2) * Tensor.Arange(6, DType.Float64).Reshape(3, 2), s => [N(s, 1, 2)]),
        new("narrow", x => x[0].Narrow(1, 1, 2), s => [N(s, 2, 4)]),
        new("slice with step", x => x[0].Slice(0, 1, null, 2), s => [N(s, 5, 2)]),
        new("select", x => x[0].Select(1, -1), s => [N(s, 2, 3)]),
        new("squeeze/unsqueeze", x => x[0].Squeeze(1).Unsqueeze(0) * 2, s => [N(s, 2, 1, 3)]),
        new("flatten", x => x[0].Flatten(1), s => [N(s, 2, 2, 2)]),
        new("split", x => x[0].Split(2, 1)[1] * x[0].Split(2, 1)[0].Narrow(1, 0, 1), s => [N(s, 2, 3)]),
        new("cat", x => Tensor.Cat([x[0], x[1]], 1), s => [N(s, 2, 2), N(s + 1, 2, 3)]),
        new("stack", x => Tensor.Stack([x[0], x[1].Exp()], 0), s => [N(s, 2, 2), N(s + 1, 2, 2)]),
        new("index_select", x => x[0].IndexSelect(1, Idx(2, 0, 2)), s => [N(s, 2, 3)]),
        new("gather", x => x[0].Gather(1, Tensor.FromArray(new[] { 0, 2, 2, 1 }, 2, 2)), s => [N(s, 2, 3)]),
        new("scatter_add", x => x[0].ScatterAdd(1, Tensor.FromArray(new[] { 0, 2, 2, 1 }, 2, 2), x[1]), s => [N(s, 2, 3), N(s + 1, 2, 2)]),
        new("clone / contiguous", x => x[0].T.Contiguous().Clone() * 3, s => [N(s, 2, 3)]),
        new("to float32 and back", x => x[0].To(DType.Float32).To(DType.Float64) * 0 + x[0], s => [N(s, 2, 2)]),
        new("two-layer net (seed)", x => x[0].MatMul(x[1]).Sigmoid().MatMul(x[2]).Sub(1).Square().Sum(), s => [N(s, 4, 3), N(s + 1, 3, 5), N(s + 2, 5, 2)]),
    ];

    /// <summary>Runs every row of <see cref="Cases"/>: GradCheck, and GradGradCheck where the row asks for it.</summary>
    public static IEnumerable<(GradCheckCase Case, GradCheckResult First, GradCheckResult? Second)> Run(ulong seed = 1) => Run(Cases, seed);

    /// <summary>Runs the given rows (this table's, another's, or a filtered subset): GradCheck, and GradGradCheck where the row asks for it.</summary>
    public static IEnumerable<(GradCheckCase Case, GradCheckResult First, GradCheckResult? Second)> Run(IEnumerable<GradCheckCase> cases, ulong seed = 1)
    {
        foreach (var c in cases)
        {
            var first = GradCheck.Check(c.Function, c.Inputs(seed));
            var second = c.SecondOrder ? GradCheck.GradGradCheck(c.Function, c.Inputs(seed)) : null;
            yield return (c, first, second);
        }
    }
}
