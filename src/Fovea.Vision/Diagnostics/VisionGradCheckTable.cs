using static Fovea.GradCheckTable;

namespace Fovea.Vision;

/// <summary>
/// The vision rows of the gradient-check table: the differentiable vision ops (PyrDown, PyrUp, Laplacian build and collapse, Blend), on small
/// inputs with odd sizes. The resamplings are linear, so the rows square their output: a linear map's second derivative
/// is zero and would not exercise the backward of the backward, while <c>f(x)²</c> makes GradGradCheck run the adjoint's
/// own backward (PyrDown's gradient is PyrDown's adjoint, whose gradient is PyrDown again). <c>fovea gradcheck</c> prints
/// these after <see cref="GradCheckTable.Cases"/>.
/// </summary>
public static class VisionGradCheckTable
{
    /// <summary>Every vision row.</summary>
    public static IReadOnlyList<GradCheckCase> Cases { get; } =
    [
        new("pyr_down [1,5,7] (squared)", x => Pyramids.PyrDown(x[0]).Square(), s => [N(s, 1, 5, 7)]),
        new("pyr_down [2,1,4,6] batch (squared)", x => Pyramids.PyrDown(x[0]).Square(), s => [N(s, 2, 1, 4, 6)]),
        new("pyr_down [1,1,3] one row", x => Pyramids.PyrDown(x[0]) * Pyramids.PyrDown(x[0]), s => [N(s, 1, 1, 3)]),
        new("pyr_up [1,3,4] -> [6,8] (squared)", x => Pyramids.PyrUp(x[0]).Square(), s => [N(s, 1, 3, 4)]),
        new("pyr_up [2,3,2] -> [5,5] odd (squared)", x => Pyramids.PyrUp(x[0], (5, 5)).Square(), s => [N(s, 2, 3, 2)]),
        new("pyr_up [1,2,3] -> [5,7] odd+1 (squared)", x => Pyramids.PyrUp(x[0], (5, 7)).Square(), s => [N(s, 1, 2, 3)]),
        new("laplacian build [1,7,5] 3 levels", x => Flat(Pyramids.LaplacianPyramid(x[0], 3)).Square(), s => [N(s, 1, 7, 5)]),
        new("laplacian collapse [1,7,5] 3 levels", x => Pyramids.Reconstruct([x[0], x[1], x[2]]).Square(),
            s => [N(s, 1, 7, 5), N(s + 1, 1, 4, 3), N(s + 2, 1, 2, 2)]),
        new("blend [2,5,6] mask [5,6] 3 levels", x => Pyramids.Blend(x[0], x[1], x[2], 3),
            s => [N(s, 2, 5, 6), N(s + 1, 2, 5, 6), N(s + 2, 5, 6)]),
        new("blend [1,4,3] mask [1,4,3] 1 level (alpha)", x => Pyramids.Blend(x[0], x[1], x[2], 1),
            s => [N(s, 1, 4, 3), N(s + 1, 1, 4, 3), N(s + 2, 1, 4, 3)]),
    ];

    private static Tensor Flat(Tensor[] levels) => Tensor.Cat(levels.Select(l => l.Reshape(-1)).ToArray());
}
