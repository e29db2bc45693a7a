using System.Globalization;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary><c>fovea toy</c>: the seeds' tiny networks — XOR, and fitting a function of one variable.</summary>
public static class ToyCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("toy", "xor | fit [--function square|sin|abs|step] [--hidden 3]  [--seed S] [-o FILE]",
        "Tiny networks: a 2-2-1 tanh net learns XOR; a one-hidden-layer net fits a function; writes a PNG", (a, o) =>
        {
            string? function = a.Option("--function");
            string? hidden = a.Option("--hidden");
            int seed = a.Int("--seed", 0, 0);
            string? output = a.Option("-o", "--out");
            string which = a.Positionals(1, "xor or fit")[0];
            switch (which)
            {
                case "xor":
                    if (function is not null || hidden is not null) throw new UsageException("toy xor: --function and --hidden belong to 'toy fit'");
                    return Xor((ulong)seed, PathArgs.OutputFile(output ?? "xor.png"), o);
                case "fit":
                    int h = hidden is null ? 3 : int.TryParse(hidden, NumberStyles.Integer, CultureInfo.InvariantCulture, out int x) && x >= 1 && x <= 1000 ? x
                        : throw new UsageException($"toy fit: --hidden must be an integer in [1, 1000], got '{hidden}'");
                    string f = function ?? "sin";
                    if (!Experiments.Functions.Contains(f)) throw new UsageException($"toy fit: unknown function '{f}' (choose {string.Join(", ", Experiments.Functions)})");
                    return Fit(f, h, (ulong)seed, PathArgs.OutputFile(output ?? $"fit-{f}-{h}.png"), o);
                default:
                    throw new UsageException($"toy: unknown experiment '{which}' (choose xor or fit)");
            }
        });

    private static int Xor(ulong seed, string output, TextWriter o)
    {
        var r = Experiments.Xor(seed);
        o.WriteLine($"XOR with a 2-2-1 tanh network ({r.Attempts} initialisation{(r.Attempts == 1 ? "" : "s")}):");
        for (int i = 0; i < 4; i++)
        {
            int want = (int)r.Inputs[i][0] ^ (int)r.Inputs[i][1];
            o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Inputs[i][0]} xor {r.Inputs[i][1]} = {want}   network {r.Predictions[i]:0.0000}  {((r.Predictions[i] > 0.5 ? 1 : 0) == want ? "ok" : "wrong")}"));
        }
        o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"loss {r.Loss:0.000000}, {r.Correct}/4 correct"));
        r.Picture.Save(output);
        o.WriteLine($"wrote {output} (decision surface)");
        return r.Correct == 4 ? 0 : 1;
    }

    private static int Fit(string function, int hidden, ulong seed, string output, TextWriter o)
    {
        var r = Experiments.Fit(function, hidden, seed);
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fit {function} at 50 points on (-1, 1) with {hidden} tanh units: loss (MSE) {r.Loss:0.000000}"));
        r.Picture.Save(output);
        o.WriteLine($"wrote {output}");
        return 0;
    }
}
