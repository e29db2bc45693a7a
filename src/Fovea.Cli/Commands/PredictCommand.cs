using System.Globalization;
using Fovea.Vision.Imaging;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea predict</c>: the top classes of an image under a trained checkpoint.</summary>
public static class PredictCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("predict", "--checkpoint FILE [--top K] IMAGE",
        "Classify an image (converted to gray 28x28) with a checkpoint or an .onnx model: top classes with probabilities", (a, o) =>
        {
            string checkpoint = a.Option("--checkpoint") ?? throw new UsageException("predict: --checkpoint FILE is required");
            int top = a.Int("--top", 3, 1, 100);
            string image = a.Positionals(1, "one image file")[0];
            return Run(checkpoint, image, top, o);
        });

    /// <summary>Prints the <paramref name="top"/> classes of <paramref name="imagePath"/>.</summary>
    public static int Run(string checkpoint, string imagePath, int top, TextWriter o)
    {
        PathArgs.InputFile(checkpoint);
        PathArgs.InputFile(imagePath);
        var model = OnnxModelFile.LoadTrained(checkpoint);
        var image = ImageIO.Load(imagePath);
        var best = model.Predict(image, top, out bool inverted);
        o.WriteLine($"{imagePath}: {image.Width}x{image.Height}, {image.Channels} channel(s) -> gray {model.InputSize}x{model.InputSize}" +
                    (inverted ? ", inverted (light background; Fashion-MNIST objects are light on black)" : ""));
        for (int i = 0; i < best.Count; i++)
            o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i + 1}. {best[i].Name,-12} {100 * best[i].Probability,6:0.00}%"));
        return 0;
    }
}
