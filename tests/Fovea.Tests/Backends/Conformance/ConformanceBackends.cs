using Fovea.Backends;

namespace Fovea.Tests.Backends.Conformance;

/// <summary>
/// The backends the conformance suite holds against the oracle. A new backend registers by adding itself to
/// <see cref="UnderTest"/> (one line): <see cref="BackendConformanceTests"/> then runs every primitive's cases
/// (<see cref="PrimitiveCases"/>) on it and compares each output with <see cref="Oracle"/>. Its
/// <see cref="IBackend.Name"/> must be unique, as it names the test cases.
/// </summary>
public static class ConformanceBackends
{
    /// <summary>The plain float64-accumulating backend that defines the expected results.</summary>
    public static IBackend Oracle => Backend.Reference;

    /// <summary>Every backend that must agree with <see cref="Oracle"/>.</summary>
    public static readonly IReadOnlyList<IBackend> UnderTest = [Backend.Cpu];

    /// <summary>The registered backend called <paramref name="name"/>.</summary>
    public static IBackend Named(string name) =>
        UnderTest.SingleOrDefault(b => b.Name == name) ?? throw new ArgumentException($"no conformance backend is named '{name}'", nameof(name));
}
