using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// A multilayer perceptron: flatten, then Linear layers of the given sizes with an activation between them
/// (none after the last). <c>new Mlp([784, 256, 128, 10])</c> is the classic 784-256-128-10 network.
/// </summary>
public sealed class Mlp : Sequential
{
    /// <summary>Layer widths from input to output, and the hidden activation ("relu", "tanh", "sigmoid", "gelu").</summary>
    public Mlp(int[] sizes, string activation = "relu", Generator? generator = null)
    {
        if (sizes.Length < 2 || sizes.Any(s => s < 1))
            throw new ArgumentException($"Mlp: needs at least an input and an output size, all positive, got [{string.Join(", ", sizes)}]");
        var g = generator ?? new Generator(0);
        var layers = Add("layers", new Sequential());
        layers.Append(new Flatten());
        for (int i = 0; i + 1 < sizes.Length; i++)
        {
            layers.Append(new Linear(sizes[i], sizes[i + 1], generator: g));
            if (i + 2 < sizes.Length) layers.Append(Activation(activation));
        }
        Sizes = sizes;
    }

    /// <summary>
    /// The MLP for <paramref name="channels"/> × <paramref name="size"/>² images: flatten, then hidden layers of
    /// <paramref name="hidden"/> widths, then <paramref name="classes"/> outputs (<c>fovea train --model mlp --hidden 256,128</c>).
    /// </summary>
    public static Mlp ForImages(int channels, int size, int[] hidden, int classes, string activation = "relu", Generator? generator = null) =>
        new([channels * size * size, .. hidden, classes], activation, generator);

    /// <summary>The layer widths.</summary>
    public int[] Sizes { get; }

    /// <summary>The activation module for a name.</summary>
    public static Module<Tensor, Tensor> Activation(string name) => name.ToLowerInvariant() switch
    {
        "relu" => new ReLU(),
        "tanh" => new Tanh(),
        "sigmoid" => new Sigmoid(),
        "gelu" => new GELU(),
        _ => throw new ArgumentException($"Mlp: unknown activation '{name}' (relu, tanh, sigmoid, gelu)"),
    };

    /// <inheritdoc/>
    public override string Describe() => $"Mlp({string.Join("-", Sizes)})";
}
