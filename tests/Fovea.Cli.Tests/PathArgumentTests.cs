using Fovea.Vision.Imaging;
using static Fovea.Cli.Tests.CliRunner;

namespace Fovea.Cli.Tests;

/// <summary>
/// Every file and folder a command reads or writes is checked before the work starts: a directory where a file is
/// expected says "is a directory", a file in the way of an output says so by name. Paths are generated per case.
/// </summary>
public sealed class PathArgumentTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), $"fovea-cli-paths-{Guid.NewGuid():N}");
    private readonly Random _rng = new(4242);
    private readonly string _png;
    private readonly string _junk;

    public PathArgumentTests()
    {
        Directory.CreateDirectory(_dir);
        _png = Path.Combine(_dir, "image.png");
        ImageIO.SavePng(_png, ImagePlanes.FromTensor(Tensor.Rand([1, 16, 16], new Generator(1))));
        _junk = Path.Combine(_dir, "junk.bin");
        File.WriteAllBytes(_junk, [1, 2, 3]);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // A fresh name with characters that often break path handling (spaces, dots, non-ASCII), never created.
    private string FreshName()
    {
        string[] parts = ["run", "out put", "ñame", "a.b", "x"];
        return $"{parts[_rng.Next(parts.Length)]}-{_rng.Next(1_000_000)}";
    }

    private string NewDirectory()
    {
        string d = Path.Combine(_dir, FreshName());
        Directory.CreateDirectory(d);
        // Half the time with a trailing separator, as shells complete folder names.
        return _rng.Next(2) == 0 ? d : d + Path.DirectorySeparatorChar;
    }

    private static string[] Fill(string[] template, Func<string, string?> placeholder) =>
        template.Select(a => placeholder(a) ?? a).ToArray();

    private static void AssertOneLineFailure((int Code, string Out, string Err) r, string[] args, params string[] contains)
    {
        Assert.True(r.Code == 1, $"fovea {string.Join(" ", args)}: exit {r.Code}, stderr: {r.Err}");
        Assert.Single(r.Err.TrimEnd().Split('\n'));
        Assert.StartsWith("fovea: ", r.Err);
        foreach (var c in contains) Assert.Contains(c, r.Err);
        Assert.DoesNotContain("not found", r.Err);
        Assert.DoesNotContain("already exists", r.Err);
    }

    /// <summary>Every input file of every command, with DIR where the test puts a directory.</summary>
    public static TheoryData<string[]> FileInputs => new()
    {
        new[] { "eval", "--checkpoint", "DIR" },
        new[] { "predict", "--checkpoint", "DIR", "PNG" },
        new[] { "predict", "--checkpoint", "JUNK", "DIR" },
        new[] { "train", "--resume", "DIR" },
        new[] { "train", "--init-from", "DIR" },
        new[] { "blend", "DIR", "PNG", "-o", "OUT" },
        new[] { "blend", "PNG", "DIR", "-o", "OUT" },
        new[] { "blend", "PNG", "PNG", "--mask", "DIR", "-o", "OUT" },
        new[] { "steer", "DIR", "--angle", "5", "-o", "OUT" },
        new[] { "match", "DIR", "PNG" },
        new[] { "match", "PNG", "DIR" },
        new[] { "pyramid", "DIR", "--out", "OUT" },
    };

    [Theory]
    [MemberData(nameof(FileInputs))]
    public void DirectoryGivenAsInputFile_SaysItIsADirectory(string[] template)
    {
        for (int i = 0; i < 3; i++)
        {
            string dir = NewDirectory(), output = Path.Combine(_dir, FreshName());
            var args = Fill(template, a => a switch { "DIR" => dir, "PNG" => _png, "JUNK" => _junk, "OUT" => output, _ => null });
            AssertOneLineFailure(Run(args), args, "is a directory", dir);
            Assert.False(Path.Exists(output));
        }
    }

    /// <summary>Every input folder, with FILE where the test puts a file.</summary>
    public static TheoryData<string[]> FolderInputs => new()
    {
        new[] { "train", "--data", "FILE" },
        new[] { "eval", "--checkpoint", "FILE", "--data", "FILE" },
        new[] { "inpaint", "--data", "FILE" },
    };

    [Theory]
    [MemberData(nameof(FolderInputs))]
    public void FileGivenAsDataFolder_SaysItIsAFile(string[] template)
    {
        var args = Fill(template, a => a == "FILE" ? _junk : null);
        AssertOneLineFailure(Run(args), args, "is a file, not a directory", _junk);
    }

    /// <summary>Every output of every command, with OUT where the test puts the output path.</summary>
    public static TheoryData<string[], bool> Outputs => new()
    {
        { new[] { "graph", "-o", "OUT" }, false },
        { new[] { "toy", "xor", "-o", "OUT" }, false },
        { new[] { "toy", "fit", "-o", "OUT" }, false },
        { new[] { "inpaint", "-o", "OUT" }, false },
        { new[] { "blend", "PNG", "PNG", "-o", "OUT" }, false },
        { new[] { "steer", "PNG", "--angle", "5", "-o", "OUT" }, false },
        { new[] { "match", "PNG", "PNG", "--map", "OUT" }, false },
        { new[] { "train", "--metrics", "OUT" }, false },
        { new[] { "pyramid", "PNG", "--out", "OUT" }, true },
        { new[] { "train", "--out", "OUT" }, true },
    };

    [Theory]
    [MemberData(nameof(Outputs))]
    public void OutputUnderARegularFile_NamesThatFile(string[] template, bool isFolder)
    {
        _ = isFolder;
        for (int i = 0; i < 3; i++)
        {
            // A regular file, then one to three folder levels under it that cannot exist.
            string blocker = Path.Combine(_dir, FreshName() + ".txt");
            File.WriteAllText(blocker, "keep me");
            string output = Path.Combine([blocker, .. Enumerable.Range(0, _rng.Next(0, 3)).Select(_ => FreshName()), "out.png"]);
            var args = Fill(template, a => a switch { "OUT" => output, "PNG" => _png, _ => null });
            AssertOneLineFailure(Run(args), args, $"{blocker} is a file, not a directory");
            Assert.Equal("keep me", File.ReadAllText(blocker));
        }
    }

    [Theory]
    [MemberData(nameof(Outputs))]
    public void OutputOfTheWrongKind_SaysWhatItIs(string[] template, bool isFolder)
    {
        // A file output given an existing directory, or a folder output given an existing file.
        string output = isFolder ? _junk : NewDirectory();
        var args = Fill(template, a => a switch { "OUT" => output, "PNG" => _png, _ => null });
        AssertOneLineFailure(Run(args), args, output, isFolder ? "is a file, not a directory" : "is a directory");
        if (isFolder) Assert.Equal([1, 2, 3], File.ReadAllBytes(_junk));
    }
}
