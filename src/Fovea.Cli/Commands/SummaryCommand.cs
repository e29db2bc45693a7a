using System.Globalization;
using Fovea.NN;
using Fovea.Vision.Models;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea summary</c>: a zoo model layer by layer, with its totals.</summary>
public static class SummaryCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("summary", "MODEL [--input C,H,W] [--classes K] [--hidden 256,128]",
        "A model layer by layer: output shape, parameters, multiply-adds, activation memory, receptive field, and the totals (FLOPs = 2 x multiply-adds of convolutions, linear layers and matrix products)", (a, o) =>
        {
            string? input = a.Option("--input"), hidden = a.Option("--hidden");
            int? classes = a.Option("--classes") is { } k ? ParsePositive("--classes", k, 100_000) : null;
            string model = a.Positionals(1, "a model name")[0];
            if (!ModelZoo.Contains(model)) throw new UsageException($"summary: unknown model '{model}' (choose one of: {string.Join(", ", ModelZoo.Names)})");
            int[] shape = input is null ? DefaultInput(model) : ParseInput(input);
            int[]? widths = hidden?.Split(',').Select(w => ParsePositive("--hidden", w, 1 << 20)).ToArray();
            return Run(model, shape, classes ?? (shape[1] >= 64 ? 1000 : 10), widths, o);
        });

    /// <summary>Prints the summary of <paramref name="model"/> built for <paramref name="input"/> [C, H, W] and <paramref name="classes"/> classes.</summary>
    public static int Run(string model, int[] input, int classes, int[]? hidden, TextWriter o)
    {
        Module<Tensor, Tensor> net;
        try
        {
            net = Trainer.BuildModel(model, hidden, input[0], classes, input[1]);
        }
        catch (ArgumentException e)
        {
            throw new UsageException($"summary: {e.Message}");
        }
        var s = net.Summary(1, input[0], input[1], input[2]);
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{model} for {input[0]}x{input[1]}x{input[2]} inputs, {classes} classes (batch of 1)"));
        o.Write(s.ToString());
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"FLOPs: {s.TotalFlops / 1e9:0.###} G (one multiply-add = 2 FLOPs; convolutions, linear layers and matrix products; normalisation, activations and pooling not counted). Receptive field: size / stride in input pixels; '?' after a block this table cannot see into."));
        return 0;
    }

    /// <summary>The input a model is made for: 1x28x28 for the Fashion-MNIST models, 3x32x32 for the CIFAR ResNets, 3x224x224 otherwise.</summary>
    private static int[] DefaultInput(string model)
    {
        int size = TrainOptions.ModelInputSize(model);
        return [size == 28 ? 1 : 3, size, size];
    }

    private static int[] ParseInput(string text)
    {
        var parts = text.Split(',');
        if (parts.Length != 3) throw new UsageException($"summary: --input takes C,H,W such as 3,224,224, got '{text}'");
        var v = parts.Select(p => ParsePositive("--input", p, 4096)).ToArray();
        if (v[0] > 64) throw new UsageException($"summary: --input has {v[0]} channels; at most 64");
        return v;
    }

    private static int ParsePositive(string name, string text, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int x) && x >= 1 && x <= max
            ? x : throw new UsageException($"summary: {name} takes whole numbers from 1 to {max}, got '{text}'");
}
