using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// The notes' linear classifier f(x) = Wx + b: the image flattened to a vector x of C·S² values, one row of W (and
/// one bias) per class, so each class score is a dot product with a template the size of the image. Children
/// <c>flatten</c> and <c>fc</c> (W [K, C·S²], b [K]), initialised as PyTorch's <c>nn.Linear</c>.
/// </summary>
public sealed class LinearClassifier : Sequential
{
    /// <summary>For <paramref name="inputSize"/>² images with <paramref name="inChannels"/> channels and <paramref name="classes"/> classes.</summary>
    public LinearClassifier(int inChannels, int classes, int inputSize, Generator? generator = null)
    {
        ZooLayers.CheckArguments("LinearClassifier", inChannels, classes, inputSize);
        InChannels = inChannels;
        InputSize = inputSize;
        Add("flatten", new Flatten());
        Fc = Add("fc", new Linear(inChannels * inputSize * inputSize, classes, generator: generator ?? new Generator(0)));
    }

    /// <summary>The linear layer: <see cref="Linear.Weight"/> row k is class k's template.</summary>
    public Linear Fc { get; }

    /// <summary>Input channels.</summary>
    public int InChannels { get; }

    /// <summary>Input height and width.</summary>
    public int InputSize { get; }

    /// <summary>Class <paramref name="k"/>'s template: row k of W as an image [C, S, S].</summary>
    public Tensor Template(int k) => Fc.Weight.Detach().Select(0, k).Reshape(InChannels, InputSize, InputSize);

    /// <inheritdoc/>
    public override string Describe() => $"LinearClassifier({InChannels}x{InputSize}x{InputSize} -> {Fc.OutFeatures})";
}
