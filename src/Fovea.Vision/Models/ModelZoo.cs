using Fovea.NN;

namespace Fovea.Vision.Models;

/// <summary>
/// Builds the zoo's models by name (what <c>fovea train --model NAME</c> accepts). Every model takes input channels,
/// classes and input size, and draws its initial weights and later its dropout masks from the generator
/// passed in (a trainer that selects a stream of that generator per epoch gets the same masks after a resume).
/// The ImageNet models keep torchvision's parameter names and shapes at every input size; see
/// <see cref="ZooLayers"/> for how they adapt to 28x28 and 32x32 images.
/// </summary>
public static class ModelZoo
{
    /// <summary>A factory: (input channels, classes, input size, generator) → model.</summary>
    public delegate Module<Tensor, Tensor> Factory(int inChannels, int classes, int inputSize, Generator generator);

    private static readonly Dictionary<string, Factory> Factories = new(StringComparer.OrdinalIgnoreCase)
    {
        ["mlp"] = (c, k, s, g) => new Mlp([c * s * s, 256, 128, k], "relu", g),
        ["linear"] = (c, k, s, g) => new LinearClassifier(c, k, s, g),
        ["lenet5"] = (c, k, s, g) => new LeNet5(c, k, s, g),
        ["fmnist_cnn"] = (c, k, s, g) => new FashionCnn(c, k, s, g),
        ["fmnist_cnn_small"] = (c, k, s, g) => new FashionCnn(c, k, s, g, width: 16),
        ["alexnet"] = (c, k, s, g) => new AlexNet(c, k, s, g),
        ["vgg11"] = (c, k, s, g) => new Vgg(11, false, c, k, s, g),
        ["vgg11_bn"] = (c, k, s, g) => new Vgg(11, true, c, k, s, g),
        ["vgg13"] = (c, k, s, g) => new Vgg(13, false, c, k, s, g),
        ["vgg13_bn"] = (c, k, s, g) => new Vgg(13, true, c, k, s, g),
        ["vgg16"] = (c, k, s, g) => new Vgg(16, false, c, k, s, g),
        ["vgg16_bn"] = (c, k, s, g) => new Vgg(16, true, c, k, s, g),
        ["vgg19"] = (c, k, s, g) => new Vgg(19, false, c, k, s, g),
        ["vgg19_bn"] = (c, k, s, g) => new Vgg(19, true, c, k, s, g),
        ["googlenet"] = (c, k, s, g) => new GoogLeNet(c, k, s, g),
        ["resnet18"] = (c, k, s, g) => new ResNet(18, c, k, s, g),
        ["resnet34"] = (c, k, s, g) => new ResNet(34, c, k, s, g),
        ["resnet50"] = (c, k, s, g) => new ResNet(50, c, k, s, g),
        ["resnet20"] = (c, k, s, g) => new CifarResNet(20, c, k, s, g),
        ["resnet32"] = (c, k, s, g) => new CifarResNet(32, c, k, s, g),
        ["resnet56"] = (c, k, s, g) => new CifarResNet(56, c, k, s, g),
    };

    /// <summary>The model names, sorted.</summary>
    public static IReadOnlyList<string> Names => Factories.Keys.Order(StringComparer.Ordinal).ToList();

    /// <summary>Whether <paramref name="name"/> (any case) is a model of the zoo.</summary>
    public static bool Contains(string name) => Factories.ContainsKey(name);

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
