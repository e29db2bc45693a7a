using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Fovea.Vision.Tests;

/// <summary>
/// The layering rules of Fovea.Vision, read from the compiled assembly: it reaches the kernels only through
/// <c>IBackend</c>, and no namespace shadows one of its public types.
/// </summary>
public class ArchitectureTests
{
    private static readonly Assembly Vision = typeof(Pyramids).Assembly;

    [Fact]
    public void FoveaVisionNeverReferencesFoveaKernels()
    {
        using var stream = File.OpenRead(Vision.Location);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        var kernelRefs = md.AssemblyReferences
            .Where(h => md.GetString(md.GetAssemblyReference(h).Name) == "Fovea.Kernels")
            .Select(h => (EntityHandle)h)
            .ToHashSet();
        // Name every type that Fovea.Vision takes from Fovea.Kernels, so a failure says what to route through IBackend.
        var used = md.TypeReferences
            .Select(md.GetTypeReference)
            .Where(t => kernelRefs.Contains(t.ResolutionScope) || md.GetString(t.Namespace).StartsWith("Fovea.Kernels", StringComparison.Ordinal))
            .Select(t => $"{md.GetString(t.Namespace)}.{md.GetString(t.Name)}")
            .ToList();
        Assert.True(kernelRefs.Count == 0 && used.Count == 0,
            $"Fovea.Vision must reach Fovea.Kernels only through IBackend, but references {string.Join(", ", used.DefaultIfEmpty("the Fovea.Kernels assembly"))}");
    }

    [Fact]
    public void TheRuleAboveSeesKernelReferences()
    {
        // The same scan on Fovea itself (whose CPU backend does call the kernels) finds them, so the test above can fail.
        using var stream = File.OpenRead(typeof(Tensor).Assembly.Location);
        using var pe = new PEReader(stream);
        var md = pe.GetMetadataReader();
        Assert.Contains(md.TypeReferences.Select(md.GetTypeReference), t => md.GetString(t.Namespace).StartsWith("Fovea.Kernels", StringComparison.Ordinal));
    }

    [Fact]
    public void NoNamespaceShadowsAPublicVisionType()
    {
        // Inside namespace A.B, a namespace A.B.X hides a type X of an enclosing namespace: tests would need an alias or
        // a qualified name (Vision.Pyramids.PyrDown) to reach the class.
        var publicNames = Vision.GetExportedTypes().Select(t => t.Name).ToHashSet();
        var namespaces = Vision.GetTypes().Concat(typeof(ArchitectureTests).Assembly.GetTypes())
            .Select(t => t.Namespace).OfType<string>().Distinct();
        var shadowing = namespaces.Where(ns => ns.Split('.').Skip(1).Any(publicNames.Contains)).ToList();
        Assert.True(shadowing.Count == 0, $"namespaces named like a public Fovea.Vision type: {string.Join(", ", shadowing)}");
    }
}
