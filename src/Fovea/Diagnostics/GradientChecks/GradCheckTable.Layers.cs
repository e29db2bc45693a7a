using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea;

public static partial class GradCheckTable
{
    private static Tensor D(params double[] values) => Tensor.From(values);

    /// <summary>Rows for layers, activations, normalisation and losses (all built from differentiable ops, so all second order).</summary>
    private static GradCheckCase[] LayerCases =>
    [
        new("erf", x => x[0].Erf(), s => [N(s, 2, 3)]),
        new("erf (tails, both algorithms)", x => x[0].Mul(2.2).Erf(), s => [Distinct(s, 2, 4)]),
        new("leaky_relu 0.1", x => F.LeakyRelu(x[0], 0.1), s => [Distinct(s, 2, 3)]),
        new("prelu per channel", x => F.Prelu(x[0], x[1]), s => [Distinct(s, 2, 3, 2), N(s + 1, 3)]),
        new("prelu shared", x => F.Prelu(x[0], x[1]), s => [Distinct(s, 2, 3), N(s + 1, 1)]),
        new("elu 1.5", x => F.Elu(x[0], 1.5), s => [Distinct(s, 2, 3)]),
        new("gelu exact", x => F.Gelu(x[0]), s => [N(s, 2, 3)]),
        new("gelu tanh", x => F.Gelu(x[0], GeluApproximation.Tanh), s => [N(s, 2, 3)]),
        new("softplus beta 2 threshold 3", x => F.Softplus(x[0], 2, 3), s => [Distinct(s, 3, 4)]),
        new("softmax dim 1", x => F.Softmax(x[0], 1), s => [N(s, 2, 4)]),
        new("softmax dim 0 (3-d)", x => F.Softmax(x[0], 0), s => [N(s, 3, 2, 2)]),
        new("log_softmax dim -1", x => F.LogSoftmax(x[0], -1), s => [N(s, 2, 4)]),
        new("linear", x => F.Linear(x[0], x[1], x[2]), s => [N(s, 3, 4), N(s + 1, 2, 4), N(s + 2, 2)]),
        new("linear 3-d input, transposed input", x => F.Linear(x[0].Unsqueeze(0), x[1]), s => [NT(s, 3, 4), N(s + 1, 2, 4)]),
        new("flatten (1, -1)", x => F.Flatten(x[0]) * Tensor.Arange(6, DType.Float64), s => [N(s, 2, 2, 3)]),
        new("dropout p=0.4 (seeded mask)", x => F.Dropout(x[0], 0.4, training: true, new Generator(5)), s => [N(s, 3, 4)]),
        new("maxout 3 pieces", x => F.Maxout(x[0], x[1], x[2], 3), s => [N(s, 2, 3), N(s + 1, 6, 3), N(s + 2, 6)]),
        new("batch_norm train 2-d (batch statistics)", x => F.BatchNorm(x[0], null, null, x[1], x[2], training: true), s => [N(s, 3, 2, 2, 2), N(s + 1, 2), N(s + 2, 2)]),
        new("batch_norm train [N, C]", x => F.BatchNorm(x[0], null, null, x[1], x[2], training: true), s => [N(s, 4, 3), N(s + 1, 3), N(s + 2, 3)]),
        new("batch_norm eval (running statistics)",
            x => F.BatchNorm(x[0], D(0.1, -0.3), D(0.8, 1.7), x[1], x[2], training: false), s => [N(s, 2, 2, 3), N(s + 1, 2), N(s + 2, 2)]),
        new("local_response_norm size 3 (3-d)", x => F.LocalResponseNorm(x[0], 3, 0.3, 0.75, 1.5), s => [N(s, 2, 5, 2)]),
        new("local_response_norm size 4 (uneven window)", x => F.LocalResponseNorm(x[0], 4, 0.8, 0.6, 2), s => [N(s, 1, 6, 2, 1)]),
        new("local_response_norm AlexNet (5, 1e-4, 0.75, 2)", x => F.LocalResponseNorm(x[0].Mul(30), 5, 1e-4, 0.75, 2), s => [N(s, 1, 7, 1, 2)]),
        new("layer_norm [3, 4]", x => F.LayerNorm(x[0], [3, 4], x[1], x[2]), s => [N(s, 2, 3, 4), N(s + 1, 3, 4), N(s + 2, 3, 4)]),
        new("layer_norm [4], no affine", x => F.LayerNorm(x[0], [4]), s => [N(s, 3, 4)]),
        new("mse_loss mean", x => F.MseLoss(x[0], x[1]), s => [N(s, 2, 3), N(s + 1, 2, 3)]),
        new("l1_loss sum", x => F.L1Loss(x[0], x[1], Reduction.Sum), s => [Distinct(s, 2, 3), N(s + 1, 2, 3).Mul(0.01).Detach()]),
        new("huber_loss delta 0.5 none", x => F.HuberLoss(x[0], x[1], Reduction.None, 0.5), s => [Distinct(s, 2, 4), Tensor.Zeros([2, 4], DType.Float64).Add(0.03)]),
        new("bce_with_logits weight, pos_weight", x => F.BinaryCrossEntropyWithLogits(x[0], x[1], D(0.5, 1, 2), x[2]),
            s => [N(s, 2, 3), P(s + 1, 2, 3).Mul(0.5).Detach().RequiresGrad_(), P(s + 2, 3)]),
        new("nll_loss weight, ignore_index", x => F.NllLoss(x[0], Tensor.From(1, -100, 0, 2), D(0.5, 2, 1)), s => [N(s, 4, 3)]),
        new("cross_entropy indices", x => F.CrossEntropy(x[0], Tensor.From(1, 0, 2)), s => [N(s, 3, 4)]),
        new("cross_entropy smoothing 0.2, weight, ignore", x => F.CrossEntropy(x[0], Tensor.From(1, 3, 2), D(1, 0.5, 2, 1), ignoreIndex: 3, labelSmoothing: 0.2),
            s => [N(s, 3, 4)]),
        new("cross_entropy probabilities", x => F.CrossEntropy(x[0], F.Softmax(x[1], 1)), s => [N(s, 3, 4), N(s + 1, 3, 4)]),
        new("cross_entropy k-dim [N, C, d]", x => F.CrossEntropy(x[0], Tensor.FromArray(new[] { 0, 2, 1, 1 }, 2, 2)), s => [N(s, 2, 3, 2)]),
        new("multi_margin p=1", x => F.MultiMarginLoss(x[0], Tensor.From(1, 0, 3)), s => [Distinct(s, 3, 4)]),
        new("multi_margin p=2 margin 0.7 weight", x => F.MultiMarginLoss(x[0], Tensor.From(2, 0, 3), 2, 0.7, D(1, 2, 0.5, 1.5), Reduction.Sum),
            s => [Distinct(s, 3, 4)]),
    ];
}
