using Fovea.Vision;
using Fovea.Vision.Imaging;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea steer</c>: the first-derivative-of-Gaussian response at one angle, steered from the two basis responses, or
/// with <c>--order 2</c> the second-derivative (G2) response steered from three.
/// </summary>
public static class SteerCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("steer", "IMAGE --angle DEG [--sigma S] [--order 1|2] -o OUT",
        "Oriented edge (order 1, two basis filters) or line (order 2, three) response at any angle, shown around mid-gray", (a, o) =>
        {
            double angle = a.Double("--angle", double.NaN, -3600, 3600);
            if (double.IsNaN(angle)) throw new UsageException("steer: --angle is required");
            double sigma = a.Double("--sigma", 2, 0.1, 100);
            int order = a.Int("--order", 1, 1, 2);
            string output = ImageArgs.Required(a, "steer", "-o", "--out");
            string image = a.Positionals(1, "IMAGE")[0];
            return Run(image, angle, sigma, output, o, order);
        });

    /// <summary>
    /// Writes the response of the gray version of <paramref name="image"/> at <paramref name="degrees"/> (from +x towards +y,
    /// y down): the first derivative along that direction (<paramref name="order"/> 1) or the second (2).
    /// </summary>
    public static int Run(string image, double degrees, double sigma, string output, TextWriter o, int order = 1)
    {
        PathArgs.OutputFile(output);
        var gray = ImageArgs.LoadGray(image);
        double angle = degrees * Math.PI / 180;
        var response = order switch
        {
            1 => SteerableFilter.Response(gray, sigma, angle),
            2 => SecondOrderSteerableFilter.Response(gray, sigma, angle),
            _ => throw new UsageException($"steer: --order must be 1 or 2, got {order}"),
        };
        ImageArgs.Save(output, ImageDisplay.Signed(response));
        o.WriteLine($"wrote {output} (order {order}, angle {degrees.ToString(System.Globalization.CultureInfo.InvariantCulture)}°, sigma {sigma.ToString(System.Globalization.CultureInfo.InvariantCulture)})");
        return 0;
    }
}
