using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea;

public static partial class GradCheckTable
{
    /// <summary>
    /// Rows for convolution, transposed convolution, pooling and resizing. Shapes are tiny because the check
    /// takes one backward per output element and two forwards per input element.
    /// </summary>
    private static GradCheckCase[] ConvolutionCases =>
    [
        new("conv2d 3x3 + bias", x => F.Conv2d(x[0], x[1], x[2]), s => [N(s, 1, 2, 4, 4), N(s + 1, 2, 2, 3, 3), N(s + 2, 2)]),
        new("conv2d stride 2, padding 1", x => F.Conv2d(x[0], x[1], stride: 2, padding: 1), s => [N(s, 2, 1, 5, 5), N(s + 1, 2, 1, 3, 3)]),
        new("conv2d dilation 2, padding (1, 2)", x => F.Conv2d(x[0], x[1], padding: (1, 2), dilation: 2), s => [N(s, 1, 1, 5, 4), N(s + 1, 1, 1, 2, 2)]),
        new("conv2d groups 2", x => F.Conv2d(x[0], x[1], x[2], groups: 2), s => [N(s, 1, 4, 3, 3), N(s + 1, 2, 2, 2, 2), N(s + 2, 2)]),
        new("conv2d depthwise", x => F.Conv2d(x[0], x[1], padding: 1, groups: 2), s => [N(s, 1, 2, 3, 3), N(s + 1, 2, 1, 3, 3)]),
        new("conv2d 1x1", x => F.Conv2d(x[0], x[1], x[2]), s => [N(s, 2, 3, 2, 2), N(s + 1, 2, 3, 1, 1), N(s + 2, 2)]),
        new("conv2d non-square stride (2, 1)", x => F.Conv2d(x[0], x[1], stride: (2, 1)), s => [N(s, 1, 1, 5, 4), N(s + 1, 1, 1, 2, 3)]),
        new("conv2d reflect padding", x => F.Conv2d(x[0], x[1], padding: 1, paddingMode: PaddingMode.Reflect), s => [N(s, 1, 1, 3, 4), N(s + 1, 1, 1, 3, 3)]),
        new("pad (constant, last two dims)", x => F.Pad(x[0], (2, 1, 0, 3), PaddingMode.Zeros, 0.5), s => [N(s, 2, 3, 2)]),
        new("pad (constant, n-d, of a transposed view)", x => F.Pad(x[0].Transpose(0, 2), [1, 0, 2], [0, 2, 1], -1.5), s => [N(s, 2, 3, 2)]),
        new("conv2d replicate padding", x => F.Conv2d(x[0], x[1], padding: (1, 2), paddingMode: PaddingMode.Replicate), s => [N(s, 1, 1, 3, 3), N(s + 1, 1, 1, 2, 3)]),
        new("conv_transpose2d stride 2 + bias", x => F.ConvTranspose2d(x[0], x[1], x[2], stride: 2, padding: 1), s => [N(s, 1, 2, 3, 3), N(s + 1, 2, 1, 3, 3), N(s + 2, 1)]),
        new("conv_transpose2d output padding", x => F.ConvTranspose2d(x[0], x[1], stride: 2, outputPadding: 1), s => [N(s, 1, 1, 2, 3), N(s + 1, 1, 2, 2, 2)]),
        new("conv_transpose2d groups, dilation", x => F.ConvTranspose2d(x[0], x[1], groups: 2, dilation: 2, padding: 1), s => [N(s, 1, 2, 3, 3), N(s + 1, 2, 1, 2, 2)]),
        new("max_pool2d 2x2", x => F.MaxPool2d(x[0], 2), s => [Distinct(s, 1, 2, 4, 4)]),
        new("max_pool2d 3x3 s2 p1 ceil_mode", x => F.MaxPool2d(x[0], 3, stride: 2, padding: 1, ceilMode: true), s => [Distinct(s, 1, 1, 6, 6)]),
        new("max_pool2d dilation 2", x => F.MaxPool2d(x[0], 2, stride: 1, dilation: 2), s => [Distinct(s, 1, 1, 4, 5)]),
        new("avg_pool2d 2x2", x => F.AvgPool2d(x[0], 2), s => [N(s, 1, 2, 4, 4)]),
        new("avg_pool2d 3x3 s2 p1 ceil_mode", x => F.AvgPool2d(x[0], 3, stride: 2, padding: 1, ceilMode: true), s => [N(s, 1, 1, 6, 6)]),
        new("avg_pool2d exclude pad", x => F.AvgPool2d(x[0], (3, 2), stride: (2, 1), padding: 1, countIncludePad: false), s => [N(s, 1, 1, 5, 4)]),
        new("adaptive_avg_pool2d 5x7 -> 3x2", x => F.AdaptiveAvgPool2d(x[0], (3, 2)), s => [N(s, 1, 1, 5, 7)]),
        new("upsample nearest x2", x => F.Interpolate(x[0], scaleFactor: 2), s => [N(s, 1, 1, 2, 3)]),
        new("interpolate nearest to 5x4", x => F.Interpolate(x[0], size: (5, 4)), s => [N(s, 1, 1, 3, 3)]),
        new("upsample bilinear align_corners", x => F.Interpolate(x[0], size: (4, 5), mode: InterpolationMode.Bilinear, alignCorners: true), s => [N(s, 1, 1, 2, 3)]),
        new("upsample bilinear half-pixel", x => F.Interpolate(x[0], scaleFactor: 2, mode: InterpolationMode.Bilinear, alignCorners: false), s => [N(s, 1, 1, 2, 3)]),
        new("LeNet block: conv, tanh, pool, conv", x => F.Conv2d(F.MaxPool2d(F.Conv2d(x[0], x[1], padding: 1).Tanh(), 2), x[2]),
            s => [N(s, 1, 1, 4, 4), N(s + 1, 2, 1, 3, 3), N(s + 2, 1, 2, 2, 2)]),
    ];
}
