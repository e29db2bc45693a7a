using System.Globalization;
using Fovea.Vision.Datasets;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea inpaint</c>: an MLP restores masked Fashion-MNIST images.</summary>
public static class InpaintCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("inpaint", "[--data DIR] [--download] [--samples 10000] [--epochs 5] [--hidden 256] [--mask 12] [--seed S] [-o FILE]",
        "An MLP trained with the L2 loss restores masked Fashion-MNIST images; writes masked / predicted / truth", (a, o) =>
        {
            string? dir = a.Option("--data");
            bool download = a.Flag("--download");
            int samples = a.Int("--samples", 10000, 1);
            int epochs = a.Int("--epochs", 5, 1, 1000);
            // Two hidden-by-hidden layers with Adam's state: 4096 keeps that under 1 GB; beyond it memory, not quality, is the limit.
            int hidden = a.Int("--hidden", 256, 1, 4096);
            int mask = a.Int("--mask", 12, 1, 28);
            int seed = a.Int("--seed", 0, 0);
            string output = a.Option("-o", "--out") ?? "inpaint.png";
            a.Done();
            PathArgs.InputFolder(dir);
            PathArgs.OutputFile(output);
            var data = FashionMnist.Load(dir, download);
            o.WriteLine($"training a 784-{hidden}-{hidden}-784 MLP on {Math.Min(samples, data.TrainImages.Size(0)):N0} images with a random {mask}x{mask} square masked, {epochs} epochs...");
            var r = Experiments.Inpaint(data, samples, epochs, hidden, mask, seed: (ulong)seed);
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"test MSE {r.TestLoss:0.00000} per pixel; inside the masked square {r.HoleLoss:0.00000} (the masked input: {r.HoleBaseline:0.00000})"));
            r.Picture.Save(output);
            o.WriteLine($"wrote {output} (rows: masked, predicted, ground truth)");
            return 0;
        });
}
