using Fovea.Vision;
using Fovea.Vision.Imaging;

namespace Fovea.Cli;

/// <summary><c>fovea steer</c>: the first-derivative-of-Gaussian response at one angle, steered from the two basis responses.</summary>
public static class SteerCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("steer", "IMAGE --angle DEG [--sigma S] -o OUT",
        "Oriented edge response at any angle from two basis filters (shown around mid-gray)", (a, o) =>
        {
            double angle = a.Double("--angle", double.NaN, -3600, 3600);
            if (double.IsNaN(angle)) throw new UsageException("steer: --angle is required");
            double sigma = a.Double("--sigma", 2, 0.1, 100);
            string output = ImageArgs.Required(a, "steer", "-o", "--out");
            string image = a.Positionals(1, "IMAGE")[0];
            return Run(image, angle, sigma, output, o);
        });

    /// <summary>Writes the response of the gray version of <paramref name="image"/> at <paramref name="degrees"/> (from +x towards +y, y down).</summary>
    public static int Run(string image, double degrees, double sigma, string output, TextWriter o)
    {
        PathArgs.OutputFile(output);
        var gray = ImageArgs.LoadGray(image);
        var response = SteerableFilter.Response(gray, sigma, degrees * Math.PI / 180);
        ImageArgs.Save(output, ImageDisplay.Signed(response));
        o.WriteLine($"wrote {output} (angle {degrees.ToString(System.Globalization.CultureInfo.InvariantCulture)}°, sigma {sigma.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
        return 0;
    }
}
