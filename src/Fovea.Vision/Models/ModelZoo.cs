using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>Builds the zoo's models by name (what <c>fovea train --model NAME</c> accepts).</summary>
public static class ModelZoo
{
    /// <summary>A factory: (input channels, classes, input size, generator) → model.</summary>
    public delegate Module<Tensor, Tensor> Factory(int inChannels, int classes, int inputSize, Generator generator);

    private static readonly Dictionary<string, Factory> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["mlp"] = (c, k, s, g) => new Mlp([c * s * s, 256, 128, k], "relu", g),
        ["lenet5"] = (c, k, s, g) => new LeNet5(c, k, s, g),
    };

    /// <summary>The model names, sorted.</summary>
    public static IReadOnlyList<string> Names => Factories.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>Adds a model (for the zoo's own files and for applications).</summary>
    public static void Register(string name, Factory factory) => Factories[name] = factory;

    /// <summary>Creates model <paramref name="name"/>.</summary>
    public static Module<Tensor, Tensor> Create(string name, int inChannels, int classes, int inputSize, Generator? generator = null)
    {
        if (!Factories.TryGetValue(name, out var f))
            throw new ArgumentException($"unknown model '{name}' (choose one of: {string.Join(", ", Names)})");
        return f(inChannels, classes, inputSize, generator ?? new Generator(0));
    }
}
