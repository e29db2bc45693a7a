using System.Text;
using System.Text.RegularExpressions;

namespace Fovea.Tests.Backends;

/// <summary>
/// The layering rule: only the backends (src/Fovea/Backends) reach Fovea.Kernels; tensors, ops, autograd, NN,
/// optimizers and data go through <see cref="Fovea.Backends.IBackend"/>. The source of each listed directory is
/// scanned, comments and string literals removed, for anything that names the kernels: the namespace, a
/// <c>Kernels.</c> member access (which resolves to Fovea.Kernels inside any Fovea namespace), or a kernel type
/// declared directly in namespace <c>Fovea</c> (such as <c>Threading</c>).
/// </summary>
public partial class KernelBoundaryTests
{
    /// <summary>The only directories allowed to use Fovea.Kernels, relative to the repository root.</summary>
    private static readonly string[] Allowed = ["src/Fovea/Backends"];

    /// <summary>Source directories that must reach the kernels only through a backend (one line per project).</summary>
    public static TheoryData<string> LayersAboveTheBackends() => new()
    {
        "src/Fovea",
        "src/Fovea.Vision",
    };

    [Theory]
    [MemberData(nameof(LayersAboveTheBackends))]
    public void Code_above_the_backends_never_names_the_kernels(string directory)
    {
        string root = RepoRoot();
        var rules = Rules(KernelTypesInRootNamespace(root));
        var dir = Path.Combine(root, directory);
        Assert.True(Directory.Exists(dir), $"{dir} does not exist");
        var violations = new List<string>();
        foreach (var file in SourceFiles(dir))
        {
            string relative = Path.GetRelativePath(root, file).Replace('\\', '/');
            if (Allowed.Any(a => relative.StartsWith(a + "/", StringComparison.Ordinal))) continue;
            violations.AddRange(Violations(File.ReadAllText(file), rules).Select(v => $"{relative}:{v}"));
        }
        Assert.True(violations.Count == 0,
            $"code above the backends reaches Fovea.Kernels; add an IBackend primitive instead:\n{string.Join('\n', violations)}");
    }

    [Fact]
    public void The_scanner_finds_each_kind_of_reference_and_ignores_comments_and_strings()
    {
        var rules = Rules(["Threading"]);
        Assert.Equal(["1: using Fovea.Kernels;"], Violations("using Fovea.Kernels;", rules));
        Assert.Single(Violations("var k = global::Fovea.Kernels.Matching.TemplateMatching.Match(a, b);", rules));
        Assert.Single(Violations("namespace Fovea.Ops;\nclass A { void F() => Kernels.ParallelFor.For(1, 1, (s, e) => { }); }", rules));
        Assert.Equal(["2: int t = Threading.MaxDegreeOfParallelism;"], Violations("class A {\nint t = Threading.MaxDegreeOfParallelism;\n}", rules));
        Assert.Empty(Violations(""""
            using System.Threading;
            // Fovea.Kernels in a comment, Kernels.ParallelFor too
            /* Threading.MaxDegreeOfParallelism
               using Fovea.Kernels; */
            /// <see cref="Fovea.Kernels.ParallelFor"/>
            var s = "Fovea.Kernels"; var v = @"Kernels.X ""Fovea.Kernels"""; var c = '"';
            var k = SteerableFilters.Kernels.Length; System.Threading.Thread.Sleep(0);
            """", rules));
    }

    /// <summary>Each rule finds one way of naming the kernels in comment-free, string-free code.</summary>
    private static Regex[] Rules(IEnumerable<string> rootNamespaceKernelTypes)
    {
        var rules = new List<Regex> { FoveaKernels(), BareKernels() };
        rules.AddRange(rootNamespaceKernelTypes.Select(t => new Regex($@"(?<![\w.]){Regex.Escape(t)}\b")));
        return [.. rules];
    }

    [GeneratedRegex(@"\bFovea\s*\.\s*Kernels\b")]
    private static partial Regex FoveaKernels();

    [GeneratedRegex(@"(?<![\w.:])Kernels\s*\.\s*[A-Za-z_]")]
    private static partial Regex BareKernels();

    /// <summary>"line: text" for each line of <paramref name="source"/> whose code matches a rule.</summary>
    internal static List<string> Violations(string source, Regex[] rules)
    {
        var code = CodeOnly(source).Split('\n');
        var lines = source.Split('\n');
        var found = new List<string>();
        for (int i = 0; i < code.Length; i++)
            if (rules.Any(r => r.IsMatch(code[i]))) found.Add($"{i + 1}: {lines[i].Trim()}");
        return found;
    }

    /// <summary>The public types that Fovea.Kernels declares directly in namespace <c>Fovea</c> (visible without a using).</summary>
    private static string[] KernelTypesInRootNamespace(string root)
    {
        var types = new List<string>();
        foreach (var file in SourceFiles(Path.Combine(root, "src/Fovea.Kernels")))
        {
            string code = CodeOnly(File.ReadAllText(file));
            if (!RootNamespace().IsMatch(code)) continue;
            types.AddRange(TypeDeclaration().Matches(code).Select(m => m.Groups[1].Value));
        }
        return [.. types.Distinct()];
    }

    [GeneratedRegex(@"^\s*namespace\s+Fovea\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex RootNamespace();

    [GeneratedRegex(@"\bpublic\s+(?:(?:static|sealed|abstract|readonly|partial|ref)\s+)*(?:class|struct|interface|enum|record(?:\s+struct|\s+class)?|delegate\s+\S+)\s+(\w+)")]
    private static partial Regex TypeDeclaration();

    private static IEnumerable<string> SourceFiles(string dir) =>
        Directory.EnumerateFiles(dir, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar).Any(part => part is "bin" or "obj"))
            .Order(StringComparer.Ordinal);

    /// <summary>
    /// The source with comments and string and character literals blanked out (newlines kept, so line numbers hold).
    /// Handles //, /* */, "…" with escapes, @"…" with doubled quotes, raw """…""" literals and '…'.
    /// </summary>
    internal static string CodeOnly(string s)
    {
        var sb = new StringBuilder(s.Length);
        int i = 0;
        void Blank(int end)
        {
            for (; i < end && i < s.Length; i++) sb.Append(s[i] == '\n' ? '\n' : ' ');
        }
        while (i < s.Length)
        {
            char c = s[i];
            char next = i + 1 < s.Length ? s[i + 1] : '\0';
            if (c == '/' && next == '/')
            {
                int end = s.IndexOf('\n', i);
                Blank(end < 0 ? s.Length : end);
            }
            else if (c == '/' && next == '*')
            {
                int end = s.IndexOf("*/", i + 2, StringComparison.Ordinal);
                Blank(end < 0 ? s.Length : end + 2);
            }
            else if (c == '"' && next == '"' && i + 2 < s.Length && s[i + 2] == '"')
            {
                int quotes = 0;
                while (i + quotes < s.Length && s[i + quotes] == '"') quotes++;
                int end = s.IndexOf(new string('"', quotes), i + quotes, StringComparison.Ordinal);
                Blank(end < 0 ? s.Length : end + quotes);
            }
            else if (c == '@' && next == '"')
            {
                int j = i + 2;
                while (j < s.Length && !(s[j] == '"' && (j + 1 >= s.Length || s[j + 1] != '"'))) j += s[j] == '"' ? 2 : 1;
                Blank(j + 1);
            }
            else if (c is '"' or '\'')
            {
                int j = i + 1;
                while (j < s.Length && s[j] != c && s[j] != '\n') j += s[j] == '\\' ? 2 : 1;
                Blank(j + 1);
            }
            else
            {
                sb.Append(c);
                i++;
            }
        }
        return sb.ToString();
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Fovea.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new DirectoryNotFoundException("cannot find the repository root (Fovea.sln) above " + AppContext.BaseDirectory);
    }
}
