using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using Fovea.Backends;

namespace Fovea.Tests.Backends.Conformance;

/// <summary>Marks a case generator in <see cref="PrimitiveCases"/>: a static method <c>IEnumerable&lt;ConformanceCase&gt; (Random)</c> exercising <see cref="Primitive"/>.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class CasesForAttribute(string primitive) : Attribute
{
    /// <summary>The name of the <see cref="IBackend"/> method the cases call.</summary>
    public string Primitive { get; } = primitive;
}

/// <summary>Finds the case generators, runs their cases on a backend and the oracle, and reports the worst disagreement.</summary>
public static class ConformanceRunner
{
    /// <summary>
    /// The base seed of every case: each generator gets its own seed derived from it and the generator's name, so a
    /// failure reproduces by itself, named by its generator and case number. Set FOVEA_CONFORMANCE_SEED to explore
    /// other random cases (failure messages give the value to reproduce them).
    /// </summary>
    public static int BaseSeed { get; } =
        int.TryParse(Environment.GetEnvironmentVariable("FOVEA_CONFORMANCE_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : 20_111;

    /// <summary>The case generators, by the primitive they cover.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<MethodInfo>> Generators { get; } =
        typeof(PrimitiveCases).GetMethods(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .SelectMany(m => m.GetCustomAttributes<CasesForAttribute>().Select(a => (a.Primitive, Method: m)))
            .GroupBy(p => p.Primitive)
            .ToDictionary(g => g.Key, g => (IReadOnlyList<MethodInfo>)g.Select(p => p.Method).OrderBy(m => m.Name, StringComparer.Ordinal).ToList());

    /// <summary>The seed of <paramref name="generator"/>'s cases: the base seed mixed with an FNV-1a hash of its name (stable across runs, unlike string.GetHashCode).</summary>
    public static int SeedOf(MethodInfo generator)
    {
        uint h = 2166136261;
        foreach (char c in generator.Name) h = (h ^ c) * 16777619;
        return (int)h ^ BaseSeed;
    }

    /// <summary>Runs every case of <paramref name="primitive"/> on <paramref name="backend"/> and the oracle; returns how many ran.</summary>
    public static int RunPrimitive(IBackend backend, string primitive)
    {
        int count = 0;
        foreach (var generator in Generators[primitive])
        {
            int seed = SeedOf(generator);
            var cases = (IEnumerable<ConformanceCase>)generator.Invoke(null, [new Random(seed)])!;
            int number = 0;
            foreach (var c in cases)
            {
                Check(backend, $"{primitive} ({generator.Name} case {number}, FOVEA_CONFORMANCE_SEED={BaseSeed})", c);
                number++;
                count++;
            }
        }
        return count;
    }

    /// <summary>Runs one case on the oracle and on <paramref name="backend"/> and asserts that they agree.</summary>
    public static void Check(IBackend backend, string what, ConformanceCase c)
    {
        string context = $"{backend.Name} {what}: {c.Parameters}; inputs {string.Join(", ", c.Inputs.Select(CaseTensors.Describe))}";
        if (c.Rejects is { } rejects)
        {
            AssertRejects(ConformanceBackends.Oracle, c, rejects, context);
            AssertRejects(backend, c, rejects, context);
            return;
        }
        var before = c.Inputs.Select(t => Bytes(t.Storage.Data)).ToArray();
        var expected = Invoke(ConformanceBackends.Oracle, c, c.Inputs, context);
        var actual = Invoke(backend, c, c.Inputs, context);
        for (int i = 0; i < c.Inputs.Length; i++)
            if (!before[i].AsSpan().SequenceEqual(Bytes(c.Inputs[i].Storage.Data)))
                Assert.Fail($"{context}: input {i} was modified");
        if (actual.Length != expected.Length)
            Assert.Fail($"{context}: {actual.Length} outputs, expected {expected.Length}");
        Tensor[]? magnitude = c.Tolerance.Terms > 0 && expected.Any(t => t.DType.IsFloating())
            ? Invoke(ConformanceBackends.Oracle, c with { Call = c.MagnitudeCall ?? c.Call }, c.Inputs.Select(CaseTensors.AbsoluteValues).ToArray(), context + " (magnitudes)")
            : null;
        for (int k = 0; k < expected.Length; k++)
        {
            string output = expected.Length == 1 ? "output" : $"output {k}";
            var a = actual[k];
            Assert.True(a.Shape.SequenceEqual(expected[k].Shape),
                $"{context}: {output} has shape {ShapeChecks.Format(a.Shape)}, expected {ShapeChecks.Format(expected[k].Shape)}");
            Assert.True(a.DType == expected[k].DType, $"{context}: {output} is {a.DType.Name()}, expected {expected[k].DType.Name()}");
            Assert.True(a.IsContiguous, $"{context}: {output} is not contiguous (strides {ShapeChecks.Format(a.Strides)})");
            foreach (var input in c.Inputs)
                Assert.False(ReferenceEquals(a.Storage, input.Storage), $"{context}: {output} shares storage with an input");
            CompareValues(context + ": " + output, expected[k], a, magnitude?[k], c.Tolerance);
        }
    }

    private static void AssertRejects(IBackend backend, ConformanceCase c, Type rejects, string context)
    {
        using (Backend.Use(backend))
        {
            try { c.Call(backend, c.Inputs); }
            catch (Exception e) when (rejects.IsInstanceOfType(e)) { return; }
            catch (Exception e)
            {
                Assert.Fail($"{context}: the {backend.Name} backend threw {e.GetType().Name} ({e.Message}), expected {rejects.Name}");
            }
        }
        Assert.Fail($"{context}: the {backend.Name} backend returned, expected it to throw {rejects.Name}");
    }

    /// <summary>A copy of the bits of a storage array (NaN payloads and −0 included).</summary>
    private static byte[] Bytes(Array data) => data switch
    {
        float[] f => MemoryMarshal.AsBytes(f.AsSpan()).ToArray(),
        double[] d => MemoryMarshal.AsBytes(d.AsSpan()).ToArray(),
        int[] i => MemoryMarshal.AsBytes(i.AsSpan()).ToArray(),
        bool[] b => MemoryMarshal.AsBytes(b.AsSpan()).ToArray(),
        _ => throw new ArgumentException($"unexpected storage {data.GetType().Name}"),
    };

    private static Tensor[] Invoke(IBackend backend, ConformanceCase c, Tensor[] inputs, string context)
    {
        using (Backend.Use(backend))
        {
            try { return c.Call(backend, inputs); }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                throw new Xunit.Sdk.XunitException($"{context}: the {backend.Name} backend threw {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
    }

    /// <summary>Fails naming the worst element (by |diff| / allowance) and how many elements are out of tolerance.</summary>
    private static void CompareValues(string context, Tensor expected, Tensor actual, Tensor? magnitude, Tolerance tolerance)
    {
        var e = CaseTensors.Read(expected);
        var a = CaseTensors.Read(actual);
        var m = magnitude is null ? null : CaseTensors.Read(magnitude);
        bool exact = !expected.DType.IsFloating();
        int bad = 0, worst = -1;
        double worstRatio = 0, worstTol = 0;
        for (int i = 0; i < e.Length; i++)
        {
            if (e[i] == a[i] || (double.IsNaN(e[i]) && double.IsNaN(a[i]))) continue;
            double tol = exact ? 0 : tolerance.Allowance(expected.DType, e[i], m?[i] ?? 0);
            double diff = Math.Abs(a[i] - e[i]);
            if (diff <= tol) continue;
            bad++;
            double ratio = double.IsNaN(diff) || tol == 0 ? double.PositiveInfinity : diff / tol;
            if (worst < 0 || ratio > worstRatio) { worst = i; worstRatio = ratio; worstTol = tol; }
        }
        if (worst >= 0)
            Assert.Fail($"{context} ({CaseTensors.Describe(expected)}): {bad} of {e.Length} elements differ; worst at {ShapeChecks.Format(Unravel(worst, expected.Shape))}: " +
                $"got {a[worst]:R}, expected {e[worst]:R} (|diff| {Math.Abs(a[worst] - e[worst]):G3} > allowed {worstTol:G3}, {tolerance})");
    }

    private static int[] Unravel(int flat, int[] shape)
    {
        var index = new int[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            index[d] = flat % shape[d];
            flat /= shape[d];
        }
        return index;
    }
}
