using System.Globalization;
using Fovea.Vision.Models;
using Fovea.Vision.Training;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>
/// Every mistake in a command line exits 2 with one line that names the option, in every command. The bad values are
/// generated from each option's valid range or set of names, so a new option only needs a row in a table.
/// </summary>
public sealed class UsageErrorTests
{
    private const int Seed = 20250610;

    private static void AssertUsageError(string[] args, string mentions)
    {
        var (code, _, err) = Run(args);
        string line = string.Join(" ", args);
        Assert.True(code == 2, $"fovea {line}: exit {code}, stderr: {err}");
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.StartsWith("fovea: ", err);
        Assert.Contains(mentions, err);
        Assert.DoesNotContain("   at ", err);
    }

    // The arguments a command needs besides the option under test (none of them is read before the options fail).
    private static readonly Dictionary<string, string[]> Context = new()
    {
        ["train"] = ["train"],
        ["eval"] = ["eval", "--checkpoint", "missing.safetensors"],
        ["predict"] = ["predict", "--checkpoint", "missing.safetensors", "missing.png"],
        ["inpaint"] = ["inpaint"],
        ["toy fit"] = ["toy", "fit"],
        ["toy xor"] = ["toy", "xor"],
        ["blend"] = ["blend", "a.png", "b.png", "-o", "out.png"],
        ["pyramid"] = ["pyramid", "a.png", "--out", "out"],
        ["steer"] = ["steer", "a.png", "--angle", "10", "-o", "out.png"],
        ["match"] = ["match", "a.png", "b.png"],
        ["graph"] = ["graph"],
        ["gradcheck"] = ["gradcheck"],
    };

    /// <summary>Numeric options: command, option, range (inclusive; --lr excludes 0), integer or not.</summary>
    public static TheoryData<string, string, double, double, bool> NumericOptions => new()
    {
        { "train", "--epochs", 1, 100_000, true },
        { "train", "--batch-size", 1, 1_000_000, true },
        { "train", "--lr", 0, 100, false }, // (0, 100]
        { "train", "--momentum", 0, 0.999999, false },
        { "train", "--weight-decay", 0, 10, false },
        { "train", "--seed", 0, int.MaxValue, true },
        { "train", "--limit", 1, int.MaxValue, true },
        { "train", "--max-batches", 1, int.MaxValue, true },
        { "predict", "--top", 1, 100, true },
        { "inpaint", "--samples", 1, int.MaxValue, true },
        { "inpaint", "--epochs", 1, 1000, true },
        { "inpaint", "--hidden", 1, 4096, true },
        { "inpaint", "--mask", 1, 28, true },
        { "inpaint", "--seed", 0, int.MaxValue, true },
        { "toy fit", "--hidden", 1, 1000, true },
        { "toy xor", "--seed", 0, int.MaxValue, true },
        { "blend", "--levels", 1, 64, true },
        { "pyramid", "--levels", 1, 64, true },
        { "pyramid", "--orientations", 1, 16, true },
        { "steer", "--sigma", 0.1, 100, false },
        { "match", "--top", 1, 100_000, true },
        { "match", "--min-distance", 0, int.MaxValue, true },
    };

    // Values outside the range or not numbers at all: below and above the ends, fractions for integers, words,
    // NaN and infinities, overflowing digits, hex, and random junk from the characters numbers are made of.
    private static IEnumerable<string> BadNumbers(double min, double max, bool integer, Random rng)
    {
        var c = CultureInfo.InvariantCulture;
        if (min > int.MinValue) yield return (integer ? min - 1 : min - Math.Max(1e-3, Math.Abs(min) * 0.5)).ToString("R", c);
        if (max < int.MaxValue) yield return (integer ? max + 1 : max * 2 + 1).ToString("R", c);
        if (integer) yield return (min + 0.5).ToString("R", c);
        foreach (var s in new[] { "", "abc", "NaN", "Infinity", "-Infinity", "1e400", "99999999999999999999999", "0x10", "--", "1,5" })
            yield return s;
        const string alphabet = "0123456789.-+eE,x ";
        for (int i = 0; i < 12; i++)
        {
            string s = new(Enumerable.Range(0, rng.Next(1, 8)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            if (!IsValid(s, min, max, integer)) yield return s;
        }
    }

    private static bool IsValid(string s, double min, double max, bool integer)
    {
        if (integer)
            return int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int i) && i >= min && i <= max;
        return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && d >= min && d <= max;
    }

    [Theory]
    [MemberData(nameof(NumericOptions))]
    public void BadNumber_IsAUsageErrorNamingTheOption(string command, string option, double min, double max, bool integer)
    {
        var rng = new Random(Seed ^ option.GetHashCode(StringComparison.Ordinal));
        foreach (var value in BadNumbers(min, max, integer, rng))
            AssertUsageError([.. Context[command], option, value], option);
    }

    [Theory]
    [MemberData(nameof(NumericOptions))]
    public void MissingValue_IsAUsageError(string command, string option, double min, double max, bool integer)
    {
        _ = (min, max, integer);
        AssertUsageError([.. Context[command], option], $"{option} needs a value");
        // The value forgotten before another option: that option is not taken as the value.
        AssertUsageError([.. Context[command], option, "--help-me"], $"{option} needs a value");
    }

    /// <summary>Options that take one of a set of names: command, option, the names accepted.</summary>
    public static TheoryData<string, string, string[]> NameOptions => new()
    {
        { "train", "--model", [.. ModelZoo.Names] },
        { "train", "--optimizer", ["sgd", "adam", "adamw"] },
        { "train", "--scheduler", ["none", "step", "cosine", "onecycle"] },
        { "train", "--dataset", ["fashion-mnist"] },
        { "toy fit", "--function", [.. Experiments.Functions] },
        { "graph", "--example", ["neuron", "add-mul"] },
        { "pyramid", "--kind", ["gaussian", "laplacian", "steerable"] },
        { "match", "--method", ["ncc", "ccorr-normed", "sqdiff", "sqdiff-normed"] },
    };

    // Names that are not in the set: near misses of each valid name (a letter changed, dropped or added), the empty
    // string, and random words.
    private static IEnumerable<string> UnknownNames(string[] valid, Random rng)
    {
        var names = new List<string> { "", " ", "nosuch", "ünïcode", "a/b", "-" };
        foreach (var v in valid)
        {
            int i = rng.Next(v.Length);
            names.Add(v[..i] + (char)('a' + rng.Next(26)) + v[(i + 1)..]);
            names.Add(v.Remove(i, 1));
            names.Add(v + "x");
        }
        for (int k = 0; k < 5; k++) names.Add(new string(Enumerable.Range(0, rng.Next(1, 12)).Select(_ => (char)rng.Next(33, 127)).ToArray()));
        return names.Where(n => !n.StartsWith("--", StringComparison.Ordinal) && !valid.Contains(n, StringComparer.OrdinalIgnoreCase));
    }

    [Theory]
    [MemberData(nameof(NameOptions))]
    public void UnknownName_IsAUsageErrorNamingTheValue(string command, string option, string[] valid)
    {
        var rng = new Random(Seed ^ option.GetHashCode(StringComparison.Ordinal));
        foreach (var name in UnknownNames(valid, rng))
            AssertUsageError([.. Context[command], option, name], $"'{name}'");
    }

    [Fact]
    public void NamesAreAcceptedInAnyLetterCase()
    {
        var options = TrainCommand.Parse(new Args("train", ["--model", "MLP", "--optimizer", "SGD", "--scheduler", "Cosine", "--dataset", "Fashion-MNIST"]));
        Assert.Equal(("mlp", "sgd", "cosine", "fashion-mnist"), (options.Model, options.Optimizer, options.Scheduler, options.Dataset));
    }

    [Fact]
    public void MalformedClasses_AreUsageErrors()
    {
        // Random label lists; whatever the library's parser refuses must come back as a usage error naming --classes.
        var rng = new Random(Seed);
        const string alphabet = "0123456789--,, a";
        int refused = 0;
        for (int i = 0; i < 200; i++)
        {
            string text = new(Enumerable.Range(0, rng.Next(1, 9)).Select(_ => alphabet[rng.Next(alphabet.Length)]).ToArray());
            if (text.StartsWith("--", StringComparison.Ordinal)) continue;
            bool valid;
            try { TrainOptions.ParseClasses(text); valid = true; }
            catch (ArgumentException) { valid = false; }
            if (valid) continue;
            refused++;
            AssertUsageError(["train", "--classes", text], "--classes");
        }
        Assert.True(refused > 50, $"only {refused} of the generated lists were malformed");
    }

    [Fact]
    public void UnknownOptionOrExtraArgument_IsAUsageError()
    {
        foreach (var args in Context.Values)
            AssertUsageError([.. args, "--no-such-option", "1"], "--no-such-option");
        foreach (var command in new[] { "demo", "gradcheck", "graph", "train", "inpaint" })
            AssertUsageError([command, "stray"], "stray");
    }

    [Fact]
    public void CommandHelp_PrintsTheUsageAndExitsZero()
    {
        foreach (var command in CommandLine.Commands)
        {
            var (code, output, err) = Run(command.Name, "--help");
            Assert.Equal(0, code);
            Assert.Equal("", err);
            Assert.Contains($"fovea {command.Name}", output);
        }
    }
}
