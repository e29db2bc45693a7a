using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea.Vision.Models;

/// <summary>
/// LeCun's squashing function (LeCun et al. 1998, Appendix A): f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3,
/// chosen so that f(±1) = ±1 and the gain is largest around the operating range.
/// </summary>
public sealed class ScaledTanh : Module<Tensor, Tensor>
{
    /// <summary>The amplitude A.</summary>
    public const double Amplitude = 1.7159;

    /// <summary>The slope S.</summary>
    public const double Slope = 2.0 / 3.0;

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => input.Mul(Slope).Tanh().Mul(Amplitude);
}

/// <summary>
/// LeNet-5's trainable subsampling layer (LeCun et al. 1998, §II.B, S2 and S4): each unit sums a non-overlapping
/// 2x2 window of its map, multiplies by the map's trainable coefficient and adds the map's trainable bias, then
/// applies the squashing function. Written as 2x2 average pooling (the sum / 4, so the coefficient here is the
/// paper's times 4), a per-map scale and shift, and <see cref="ScaledTanh"/>. Parameters <c>weight</c> [C] and
/// <c>bias</c> [C]: two per map, 12 for S2 and 32 for S4, as in the paper.
/// </summary>
public sealed class TrainableSubsampling : Module<Tensor, Tensor>, IReceptiveField
{
    /// <summary>A layer for <paramref name="channels"/> maps: coefficients by LeCun's rule (fan-in 4), biases 0.</summary>
    public TrainableSubsampling(int channels, Generator generator)
    {
        if (channels < 1) throw new ArgumentOutOfRangeException(nameof(channels), channels, "TrainableSubsampling: needs at least one map");
        Channels = channels;
        // The paper's fan-in is 4 (the summed inputs): U(±2.4/4) on the sum's coefficient is U(±2.4) on the average's.
        RegisterParameter("weight", Tensor.Uniform([channels], -2.4, 2.4, generator));
        RegisterParameter("bias", Tensor.Zeros([channels]));
    }

    /// <summary>The number of maps.</summary>
    public int Channels { get; }

    /// <summary>Per-map coefficient [C].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>Per-map bias [C].</summary>
    public Tensor Bias => GetParameter("bias");

    int IReceptiveField.Kernel => 2;
    int IReceptiveField.Stride => 2;
    int IReceptiveField.Padding => 0;
    int IReceptiveField.Dilation => 1;

    /// <inheritdoc/>
    public override string Describe() => $"TrainableSubsampling({Channels}, 2x2)";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input)
    {
        if (input.Rank != 4 || input.Size(1) != Channels)
            throw new ShapeException(Describe(), $"expected an input [N, {Channels}, H, W], got {ShapeChecks.Format(input.Shape)}");
        var perMap = new[] { 1, Channels, 1, 1 };
        var a = F.AvgPool2d(input, 2).Mul(Weight.Reshape(perMap)).Add(Bias.Reshape(perMap));
        return a.Mul(ScaledTanh.Slope).Tanh().Mul(ScaledTanh.Amplitude);
    }
}

/// <summary>
/// A convolution in which each output map sees only some input maps: LeNet-5's C3 (LeCun et al. 1998, §II.B,
/// Table I). Only the connected kernels are parameters (<c>weight</c> [connections, kH, kW], in the order of
/// output map, then input map); the forward places them in a dense kernel [out, in, kH, kW] whose unconnected
/// slots are zero (an index-select from the kernels with a zero kernel in front, so gradients reach only the
/// connected ones) and convolves. Initialised as the paper (Appendix C): weights U(±2.4/Fᵢ) with Fᵢ the fan-in of
/// output map i; biases 0.
/// </summary>
public sealed class PartiallyConnectedConv2d : Module<Tensor, Tensor>, IReceptiveField
{
    private readonly Tensor _slots;

    /// <summary>
    /// Output map o reads input map i where <paramref name="connections"/>[i, o] is true (the paper's table:
    /// rows are input maps, columns output maps).
    /// </summary>
    public PartiallyConnectedConv2d(bool[,] connections, int kernelSize, Generator generator)
    {
        (InChannels, OutChannels, KernelSize) = (connections.GetLength(0), connections.GetLength(1), kernelSize);
        if (InChannels < 1 || OutChannels < 1 || kernelSize < 1)
            throw new ArgumentException($"PartiallyConnectedConv2d: the table ({InChannels}x{OutChannels}) and the kernel size ({kernelSize}) must be non-empty");
        var slots = new int[OutChannels * InChannels];
        var fanIn = new int[OutChannels];
        int count = 0;
        for (int o = 0; o < OutChannels; o++)
        {
            for (int i = 0; i < InChannels; i++)
            {
                if (!connections[i, o]) continue;
                slots[o * InChannels + i] = ++count; // slot 0 is the zero kernel of the unconnected pairs
                fanIn[o] += kernelSize * kernelSize;
            }
            if (fanIn[o] == 0) throw new ArgumentException($"PartiallyConnectedConv2d: output map {o} is connected to no input map");
        }
        Connections = count;
        _slots = Tensor.From(slots);
        var bound = new float[count];
        for (int o = 0, c = 0; o < OutChannels; o++)
            for (int i = 0; i < InChannels; i++)
                if (connections[i, o]) bound[c++] = (float)(2.4 / fanIn[o]);
        RegisterParameter("weight", Tensor.Uniform([count, kernelSize, kernelSize], -1, 1, generator).Mul(Tensor.From(bound).Reshape(count, 1, 1)));
        RegisterParameter("bias", Tensor.Zeros([OutChannels]));
    }

    /// <summary>Input maps.</summary>
    public int InChannels { get; }

    /// <summary>Output maps.</summary>
    public int OutChannels { get; }

    /// <summary>The side of the square kernels.</summary>
    public int KernelSize { get; }

    /// <summary>The number of connected (input map, output map) pairs: the number of kernels.</summary>
    public int Connections { get; }

    /// <summary>The connected kernels [connections, kH, kW].</summary>
    public Tensor Weight => GetParameter("weight");

    /// <summary>One bias per output map [out].</summary>
    public Tensor Bias => GetParameter("bias");

    int IReceptiveField.Kernel => KernelSize;
    int IReceptiveField.Stride => 1;
    int IReceptiveField.Padding => 0;
    int IReceptiveField.Dilation => 1;

    /// <summary>The dense kernel [out, in, kH, kW], zero where a pair is not connected (differentiable in <see cref="Weight"/>).</summary>
    public Tensor DenseWeight()
    {
        var w = Weight;
        var withZero = Tensor.Cat([Tensor.Zeros([1, KernelSize, KernelSize], w.DType), w], 0);
        return withZero.IndexSelect(0, _slots).Reshape(OutChannels, InChannels, KernelSize, KernelSize);
    }

    /// <inheritdoc/>
    public override string Describe() => $"PartiallyConnectedConv2d({InChannels}, {OutChannels}, {KernelSize}x{KernelSize}, {Connections} connections)";

    /// <inheritdoc/>
    public override Tensor Forward(Tensor input) => F.Conv2d(input, DenseWeight(), Bias);
}
