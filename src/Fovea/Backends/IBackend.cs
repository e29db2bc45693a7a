namespace Fovea.Backends;

/// <summary>Elementwise unary primitives.</summary>
public enum UnaryOp
{
    /// <summary><c>−x</c>.</summary>
    Neg,
    /// <summary><c>|x|</c>.</summary>
    Abs,
    /// <summary>−1, 0 or 1 by the sign of x; NaN stays NaN.</summary>
    Sign,
    /// <summary><c>eˣ</c>.</summary>
    Exp,
    /// <summary>Natural logarithm; NaN below 0, −∞ at 0.</summary>
    Log,
    /// <summary><c>√x</c>; NaN below 0.</summary>
    Sqrt,
    /// <summary><c>1 / √x</c>; +∞ at 0.</summary>
    Rsqrt,
    /// <summary>Sine, x in radians.</summary>
    Sin,
    /// <summary>Cosine, x in radians.</summary>
    Cos,
    /// <summary>Hyperbolic tangent.</summary>
    Tanh,
    /// <summary>Logistic function <c>1 / (1 + e⁻ˣ)</c>.</summary>
    Sigmoid,
    /// <summary><c>max(x, 0)</c>; NaN stays NaN.</summary>
    Relu,
    /// <summary>Gauss error function <c>(2/√π) ∫₀ˣ e^(−t²) dt</c> (GELU uses it).</summary>
    Erf,
}

/// <summary>Elementwise binary primitives (with broadcasting).</summary>
public enum BinaryOp
{
    /// <summary><c>a + b</c>.</summary>
    Add,
    /// <summary><c>a − b</c>.</summary>
    Sub,
    /// <summary><c>a · b</c>.</summary>
    Mul,
    /// <summary><c>a / b</c> (not defined for Int32).</summary>
    Div,
    /// <summary><c>aᵇ</c> (not defined for Int32).</summary>
    Pow,
    /// <summary>The larger of a and b; NaN if either is NaN.</summary>
    Maximum,
    /// <summary>The smaller of a and b; NaN if either is NaN.</summary>
    Minimum,

    /// <summary>a where b &gt; 0, else 0 (NaN b gives 0): ReLU's backward, dL/dx = g · [x &gt; 0], in one pass.</summary>
    MaskPositive,
}

/// <summary>Elementwise comparisons and logical ops producing Bool.</summary>
public enum CompareOp
{
    /// <summary><c>a == b</c> (false when either is NaN).</summary>
    Eq,
    /// <summary><c>a != b</c> (true when either is NaN).</summary>
    Ne,
    /// <summary><c>a &lt; b</c>.</summary>
    Lt,
    /// <summary><c>a ≤ b</c>.</summary>
    Le,
    /// <summary><c>a &gt; b</c>.</summary>
    Gt,
    /// <summary><c>a ≥ b</c>.</summary>
    Ge,
    /// <summary>Both nonzero.</summary>
    And,
    /// <summary>Either nonzero.</summary>
    Or,
    /// <summary>Exactly one nonzero.</summary>
    Xor,
}

/// <summary>Reductions over a set of dims.</summary>
public enum ReduceOp
{
    /// <summary>Sum (0 over an empty set).</summary>
    Sum,
    /// <summary>Product (1 over an empty set).</summary>
    Prod,
    /// <summary>Largest value; NaN if any is NaN.</summary>
    Max,
    /// <summary>Smallest value; NaN if any is NaN.</summary>
    Min,
}

/// <summary>
/// The primitive contract. Autograd and NN see only this, so a GPU backend later implements the same
/// contract and runs the same conformance tests. Every method returns a new contiguous tensor (or
/// writes into the destination it is given); inputs may be arbitrary strided views.
/// Shape and dtype rules are checked by the caller (the public Tensor methods, via <see cref="ShapeChecks"/>).
/// </summary>
public partial interface IBackend
{
    /// <summary>A name for messages and test output.</summary>
    string Name { get; }

    /// <summary>Writes <paramref name="src"/>, broadcast to <paramref name="dst"/>'s shape, into the (possibly strided) <paramref name="dst"/>.</summary>
    void Assign(Tensor dst, Tensor src);

    /// <summary>Converts to another dtype (float to int truncates toward zero; nonzero to bool is true).</summary>
    Tensor Cast(Tensor x, DType dtype);

    /// <summary>y = op(x), elementwise.</summary>
    Tensor Unary(UnaryOp op, Tensor x);

    /// <summary>y = op(a, b) with NumPy broadcasting to <paramref name="shape"/>.</summary>
    Tensor Binary(BinaryOp op, Tensor a, Tensor b, int[] shape);

    /// <summary>
    /// dst = relu(a + b) elementwise (the residual join of inference in one pass), or relu(a) when
    /// <paramref name="b"/> is null; a floating dtype, all of <paramref name="dst"/>'s shape. <paramref name="dst"/> is
    /// contiguous and may be <paramref name="a"/> or <paramref name="b"/> itself (in place); the others may be strided.
    /// Each element is rounded as the unfused pair rounds it: relu(round(a + b)), NaN kept, −0 becomes +0.
    /// </summary>
    void AddRelu(Tensor dst, Tensor a, Tensor? b);

    /// <summary>Bool y = op(a, b) with broadcasting to <paramref name="shape"/>.</summary>
    Tensor Compare(CompareOp op, Tensor a, Tensor b, int[] shape);

    /// <summary>y = cond ? a : b, all broadcast to <paramref name="shape"/>.</summary>
    Tensor Where(Tensor cond, Tensor a, Tensor b, int[] shape);

    /// <summary>Reduces the (distinct, normalised) <paramref name="dims"/>; keeps them as size 1 when <paramref name="keepDim"/>.</summary>
    Tensor Reduce(ReduceOp op, Tensor x, int[] dims, bool keepDim);

    /// <summary>
    /// Softmax along the (normalised) <paramref name="dim"/> of a floating x: yᵢ = e^(xᵢ − m) / Σⱼ e^(xⱼ − m) with m the
    /// slice's maximum (so no exponential overflows); with <paramref name="log"/>, log-softmax yᵢ = xᵢ − m − log Σⱼ
    /// e^(xⱼ − m). A NaN in a slice makes the slice NaN; so does a slice of −∞ only, or one holding +∞.
    /// </summary>
    Tensor Softmax(Tensor x, int dim, bool log);

    /// <summary>
    /// The input gradient of <see cref="Softmax"/> from its output y and the output gradient g, along
    /// <paramref name="dim"/>: y ⊙ (g − Σ g·y) for softmax, g − e^y ⊙ Σ g for log-softmax (e^y being the softmax).
    /// </summary>
    Tensor SoftmaxBackward(Tensor gradOutput, Tensor output, int dim, bool log);

    /// <summary>Max or min along one dim with the index of the first extreme (NaN counts as the extreme).</summary>
    (Tensor Values, Tensor Indices) ArgReduce(bool max, Tensor x, int dim, bool keepDim);

    /// <summary>Batched matrix product: [B, M, K] @ [B, K, N] -> [B, M, N]; batch strides may be 0.</summary>
    Tensor BatchedMatMul(Tensor a, Tensor b);

    /// <summary>Selects entries <paramref name="index"/> (Int32, 1-d) along <paramref name="dim"/>.</summary>
    Tensor IndexSelect(Tensor x, int dim, Tensor index);

    /// <summary>out[..., i, ...] = x[..., index[..., i, ...], ...] along <paramref name="dim"/>.</summary>
    Tensor Gather(Tensor x, int dim, Tensor index);

    /// <summary>A copy of <paramref name="x"/> with <paramref name="src"/> added at positions <paramref name="index"/> along <paramref name="dim"/>.</summary>
    Tensor ScatterAdd(Tensor x, int dim, Tensor index, Tensor src);

    /// <summary>Concatenates <paramref name="tensors"/> along <paramref name="dim"/> into a new tensor of <paramref name="shape"/>.</summary>
    Tensor Cat(IReadOnlyList<Tensor> tensors, int dim, int[] shape);

    /// <summary>
    /// 2-d cross-correlation y = x ⋆ w + bias: x [N, C, H, W], w [O, C/groups, KH, KW], bias [O] or null,
    /// giving [N, O, (H + 2·pad − dil·(KH − 1) − 1)/stride + 1, ...].
    /// </summary>
    Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry);

    /// <summary>
    /// <see cref="Conv2d(Tensor, Tensor, Tensor?, Conv2dGeometry)"/> where <paramref name="weightIsConstant"/> says no
    /// gradient will be taken with respect to <paramref name="w"/> (inference, or a frozen layer): a backend may then keep
    /// the weight in a prepared form between calls, for as long as its storage is unchanged.
    /// </summary>
    Tensor Conv2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, bool weightIsConstant) => Conv2d(x, w, bias, geometry);

    /// <summary>
    /// relu(conv2d(x, w, bias) + <paramref name="residual"/>), or relu(conv2d(x, w, bias)) when it is null: a residual
    /// network's layer, or its join, for inference (no gradient reaches <paramref name="w"/>, as with weightIsConstant).
    /// <paramref name="residual"/> has the output's shape and dtype and shares no storage with anything written here.
    /// Each element is rounded as the separate ops round it (relu(round(conv + residual)), NaN kept, −0 made +0), so a
    /// backend with no fused form runs the convolution and then <see cref="AddRelu"/> on its output, which is this default.
    /// </summary>
    Tensor Conv2dRelu(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, Tensor? residual)
    {
        var y = Conv2d(x, w, bias, geometry, weightIsConstant: true);
        AddRelu(y, y, residual);
        return y;
    }

    /// <summary>
    /// max_pool2d(relu(conv2d(x, w, bias)), <paramref name="pool"/>) for inference, as <see cref="Conv2dRelu"/> without a
    /// residual (no gradient reaches <paramref name="w"/>): a network's stem and the pooling after it. The values are
    /// those of <see cref="Conv2dRelu"/> then <see cref="MaxPool2dValues"/>, bit for bit, which is this default; a
    /// backend may compute them without writing the convolution's output.
    /// </summary>
    Tensor Conv2dReluMaxPool2d(Tensor x, Tensor w, Tensor? bias, Conv2dGeometry geometry, Pool2dGeometry pool) =>
        MaxPool2dValues(Conv2dRelu(x, w, bias, geometry, null), pool);

    /// <summary>
    /// The input gradient of <see cref="Conv2d(Tensor, Tensor, Tensor?, Conv2dGeometry)"/>: the full convolution of <paramref name="gradOutput"/> with the
    /// flipped kernel, scattered back to an input of <paramref name="inputShape"/> (which is also the transposed convolution).
    /// </summary>
    Tensor Conv2dBackwardInput(Tensor gradOutput, Tensor w, int[] inputShape, Conv2dGeometry geometry);

    /// <summary>The weight gradient of <see cref="Conv2d(Tensor, Tensor, Tensor?, Conv2dGeometry)"/>: the cross-correlation of the input with <paramref name="gradOutput"/>.</summary>
    Tensor Conv2dBackwardWeight(Tensor x, Tensor gradOutput, int[] weightShape, Conv2dGeometry geometry);

    /// <summary>Max pooling of x [N, C, H, W]; indices (Int32) are flat positions h·W + w within each plane.</summary>
    (Tensor Values, Tensor Indices) MaxPool2d(Tensor x, Pool2dGeometry geometry);

    /// <summary>
    /// The values of <see cref="MaxPool2d"/> without the indices, for inference: nothing will route a gradient back,
    /// so the argmax is neither tracked nor stored. Bit for bit the same values.
    /// </summary>
    Tensor MaxPool2dValues(Tensor x, Pool2dGeometry geometry);

    /// <summary>Routes <paramref name="gradOutput"/> to the positions in <paramref name="indices"/> of an input of <paramref name="inputShape"/>.</summary>
    Tensor MaxPool2dBackward(Tensor gradOutput, Tensor indices, int[] inputShape);

    /// <summary>Average pooling of x [N, C, H, W] (dilation 1).</summary>
    Tensor AvgPool2d(Tensor x, Pool2dGeometry geometry);

    /// <summary>The adjoint of <see cref="AvgPool2d"/>: each output gradient spread evenly over its window.</summary>
    Tensor AvgPool2dBackward(Tensor gradOutput, int[] inputShape, Pool2dGeometry geometry);
}

/// <summary>Operand checks of <see cref="IBackend.Softmax"/> and <see cref="IBackend.SoftmaxBackward"/>, shared by every backend.</summary>
internal static class SoftmaxChecks
{
    /// <summary>
    /// x floating and <paramref name="dim"/> one of its dims (already normalised), the gradient (when given) of x's
    /// shape and dtype; returns x as [outer, n, inner] slices, n the size of <paramref name="dim"/>.
    /// </summary>
    public static (int Outer, int N, int Inner) Slices(string op, Tensor x, int dim, Tensor? gradOutput = null)
    {
        if (!x.DType.IsFloating()) throw new DTypeException(op, $"input must be float32 or float64, got {x.DType.Name()}");
        if ((uint)dim >= (uint)Math.Max(1, x.Rank)) throw new ArgumentOutOfRangeException(nameof(dim), dim, $"{op}: dim must be in [0, {x.Rank}) for a {x.Rank}-d input");
        if (gradOutput is not null)
        {
            if (gradOutput.DType != x.DType) throw new DTypeException(op, $"the output gradient is {gradOutput.DType.Name()} but the output is {x.DType.Name()}");
            if (!gradOutput._shape.AsSpan().SequenceEqual(x._shape))
                throw new ShapeException(op, $"the output gradient has shape {ShapeChecks.Format(gradOutput._shape)} but the output has {ShapeChecks.Format(x._shape)}");
        }
        if (x.Rank == 0) return (1, 1, 1);
        int outer = 1, inner = 1;
        for (int d = 0; d < dim; d++) outer *= x._shape[d];
        for (int d = dim + 1; d < x.Rank; d++) inner *= x._shape[d];
        return (outer, x._shape[dim], inner);
    }
}
