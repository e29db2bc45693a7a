using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// LeNet-5 as published (LeCun, Bottou, Bengio and Haffner 1998, §II.B), the zoo's <c>lenet5_1998</c>, beside the
/// modern form of <see cref="LeNet5"/>: C1 (6 maps, 5x5) → S2 (trainable 2x2 subsampling) → C3 (16 maps, 5x5,
/// partially connected by Table I) → S4 (trainable subsampling) → C5 (120 maps, 5x5, a full convolution) → F6
/// (84 units) → output. Every layer up to F6 applies LeCun's squashing 1.7159·tanh(2/3·a) (<see cref="ScaledTanh"/>;
/// the subsampling layers include it); weights start U(±2.4/Fᵢ) with Fᵢ the unit's fan-in (Appendix C),
/// biases 0. Trainable parameters per layer match the paper: C1 156, S2 12, C3 1,516, S4 32, C5 48,120,
/// F6 10,164. 28x28 inputs are padded by 2 to the paper's 32x32 field.
/// <para>
/// One simplification: the paper's output layer is 10 Euclidean RBF units with fixed ±1 7x12 code bitmaps,
/// trained with a maximum-a-posteriori criterion; here it is a linear layer 84 → classes whose logits go to the
/// trainer's cross entropy (84·classes + classes parameters, 850 for 10 classes).
/// </para>
/// </summary>
public sealed class LeNet1998 : Sequential
{
    /// <summary>
    /// Table I of the paper (a fresh copy): which S2 maps (rows) each C3 map (columns) reads. Maps 0–5 read three neighbouring
    /// maps, 6–11 four neighbouring maps, 12–14 four non-neighbouring maps and 15 all six (60 connections).
    /// </summary>
    public static bool[,] C3Connections() => BuildTable();

    /// <summary>The convolutional part: C1, squashing, S2, C3, squashing, S4, C5, squashing.</summary>
    public Sequential Features { get; }

    /// <summary>The fully connected part: flatten, F6, squashing, output.</summary>
    public Sequential Classifier { get; }

    /// <summary>For <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels.</summary>
    public LeNet1998(int inChannels = 1, int classes = 10, int inputSize = 28, Generator? generator = null)
    {
        ZooLayers.CheckArguments("LeNet1998", inChannels, classes, inputSize);
        var g = generator ?? new Generator(0);
        int pad = inputSize == 28 ? 2 : 0;
        int c1 = inputSize + 2 * pad - 4, s2 = c1 / 2, c3 = s2 - 4, s4 = c3 / 2, c5 = s4 - 4;
        if (c5 < 1) throw new ArgumentException($"LeNet1998: input size {inputSize} is too small (needs at least 28)");
        Features = Add("features", new Sequential(
            new Conv2d(inChannels, 6, 5, padding: pad, generator: g), new ScaledTanh(),
            new TrainableSubsampling(6, g),
            new PartiallyConnectedConv2d(C3Connections(), 5, g), new ScaledTanh(),
            new TrainableSubsampling(16, g),
            new Conv2d(16, 120, 5, generator: g), new ScaledTanh()));
        Classifier = Add("classifier", new Sequential(
            new Flatten(),
            new Linear(120 * c5 * c5, 84, generator: g), new ScaledTanh(),
            new Linear(84, classes, generator: g)));
        foreach (var (_, m) in NamedModules())
        {
            var (weight, bias) = m switch
            {
                Conv2d conv => (conv.Weight, conv.Bias),
                Linear linear => (linear.Weight, linear.Bias),
                _ => (null, null),
            };
            if (weight is null) continue;
            double bound = 2.4 / Init.CalculateFans(weight).FanIn;
            Init.Uniform(weight, -bound, bound, g);
            if (bias is not null) Init.Zeros(bias);
        }
    }

    private static bool[,] BuildTable()
    {
        var table = new bool[6, 16];
        for (int o = 0; o < 6; o++)
            for (int j = 0; j < 3; j++) table[(o + j) % 6, o] = true;
        for (int o = 0; o < 6; o++)
            for (int j = 0; j < 4; j++) table[(o + j) % 6, 6 + o] = true;
        int[][] skips = [[0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5]];
        for (int o = 0; o < 3; o++)
            foreach (int i in skips[o]) table[i, 12 + o] = true;
        for (int i = 0; i < 6; i++) table[i, 15] = true;
        return table;
    }
}
