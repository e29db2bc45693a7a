using System.Reflection;
using Fovea.Backends;

namespace Fovea.Tests.Backends.Conformance;

/// <summary>
/// The backend conformance suite: every primitive of <see cref="IBackend"/>, called directly with random shapes,
/// layouts (strided, permuted, offset, stride-0 broadcast), dtypes and edge cases (empty, one element), on each
/// backend registered in <see cref="ConformanceBackends.UnderTest"/>, against the float64-accumulating
/// <see cref="ConformanceBackends.Oracle"/> within <see cref="Tolerance"/>. A new backend registers with one line in
/// <see cref="ConformanceBackends"/>; a new primitive gets one generator in <see cref="PrimitiveCases"/>, and
/// <see cref="Every_IBackend_method_has_conformance_cases"/> fails until it has one. Cases are seeded
/// (<see cref="ConformanceRunner.BaseSeed"/>); a failure names the backend, primitive, generator, case number and seed,
/// the parameters, the input shapes, strides, offsets and dtypes, and the worst element.
/// </summary>
public class BackendConformanceTests
{
    public static TheoryData<string, string> Primitives()
    {
        var data = new TheoryData<string, string>();
        foreach (var backend in ConformanceBackends.UnderTest)
            foreach (var primitive in ConformanceRunner.Generators.Keys.Order(StringComparer.Ordinal))
                data.Add(backend.Name, primitive);
        return data;
    }

    [Theory]
    [MemberData(nameof(Primitives))]
    public void Primitive_matches_the_oracle(string backend, string primitive)
    {
        int cases = ConformanceRunner.RunPrimitive(ConformanceBackends.Named(backend), primitive);
        Assert.True(cases > 0, $"{primitive}: its generators yielded no case");
    }

    [Fact]
    public void Every_IBackend_method_has_conformance_cases()
    {
        var methods = typeof(IBackend).GetMethods().Where(m => !m.IsSpecialName).Select(m => m.Name).ToHashSet();
        var uncovered = methods.Except(ConformanceRunner.Generators.Keys).Order(StringComparer.Ordinal).ToList();
        Assert.True(uncovered.Count == 0,
            $"IBackend methods without conformance cases: {string.Join(", ", uncovered)}. Add a [CasesFor(nameof(IBackend.X))] generator to PrimitiveCases.");
        var unknown = ConformanceRunner.Generators.Keys.Except(methods).Order(StringComparer.Ordinal).ToList();
        Assert.True(unknown.Count == 0, $"conformance generators for methods IBackend does not have: {string.Join(", ", unknown)}");
    }

    [Fact]
    public void Registered_backends_have_distinct_names_and_exclude_the_oracle()
    {
        Assert.NotEmpty(ConformanceBackends.UnderTest);
        Assert.Contains(Backend.Cpu, ConformanceBackends.UnderTest);
        Assert.DoesNotContain(ConformanceBackends.Oracle, ConformanceBackends.UnderTest);
        Assert.Equal(ConformanceBackends.UnderTest.Count, ConformanceBackends.UnderTest.Select(b => b.Name).Distinct().Count());
    }

    // The suite must be able to fail: a CPU backend with one primitive subtly wrong is caught, and the message
    // names the primitive, the case and the worst element.

    [Fact]
    public void A_result_a_few_ulps_off_is_caught()
    {
        // Rounded arithmetic allows 2 ulps; one element 8 ulps off must fail.
        var wrong = Twisted.Backend(nameof(IBackend.Binary), (args, result) =>
        {
            var y = (Tensor)result!;
            if (y.DType == DType.Float32 && y.Numel > 0)
            {
                var v = y.Storage.As<float>();
                if (float.IsNormal(v[0])) v[0] = BitConverter.Int32BitsToSingle(BitConverter.SingleToInt32Bits(v[0]) + 8);
            }
            return y;
        });
        AssertCaught(wrong, nameof(IBackend.Binary));
    }

    [Fact]
    public void A_matmul_that_drops_one_term_of_the_inner_sum_is_caught()
    {
        IBackend? wrong = null;
        wrong = Twisted.Backend(nameof(IBackend.BatchedMatMul), (args, result) =>
        {
            var (a, b) = ((Tensor)args[0]!, (Tensor)args[1]!);
            int k = a.Shape[2];
            if (k < 2) return result;
            var shortA = new Tensor(a.Storage, [a.Shape[0], a.Shape[1], k - 1], a.Strides, a.Offset);
            var shortB = new Tensor(b.Storage, [b.Shape[0], k - 1, b.Shape[2]], b.Strides, b.Offset);
            return Backend.Cpu.BatchedMatMul(shortA, shortB);
        });
        AssertCaught(wrong, nameof(IBackend.BatchedMatMul));
    }

    [Fact]
    public void An_assign_that_writes_outside_its_view_is_caught()
    {
        var wrong = Twisted.Backend(nameof(IBackend.Assign), (args, result) =>
        {
            var dst = (Tensor)args[0]!;
            if (dst.DType == DType.Int32 && dst.Storage.Length > 0) dst.Storage.As<int>()[^1] += 1000;
            return result;
        });
        AssertCaught(wrong, nameof(IBackend.Assign));
    }

    [Fact]
    public void A_batch_norm_bias_gradient_with_one_term_too_many_is_caught()
    {
        // dβ = Σg over a channel; adding one more typical |g| (0.5) must fail despite the batch-norm error bound.
        var wrong = Twisted.Backend(nameof(IBackend.BatchNormBackward), (args, result) =>
        {
            var (dx, dw, db) = ((Tensor, Tensor, Tensor))result!;
            if (db.Numel > 0) db.SetFlat(0, db.GetAsDouble(db.StorageIndexOf(0)) + 0.5);
            return (dx, dw, db);
        });
        AssertCaught(wrong, nameof(IBackend.BatchNormBackward));
    }

    [Fact]
    public void A_random_fill_one_bit_off_is_caught()
    {
        var wrong = Twisted.Backend(nameof(IBackend.FillNormal), (args, result) =>
        {
            var dst = (Tensor)args[0]!;
            if (dst.DType == DType.Float64 && dst.Numel > 0)
                dst.SetFlat(0, Math.BitIncrement(dst.GetAsDouble(dst.StorageIndexOf(0))));
            return result;
        });
        AssertCaught(wrong, nameof(IBackend.FillNormal));
    }

    private static void AssertCaught(IBackend wrong, string primitive)
    {
        var e = Assert.ThrowsAny<Xunit.Sdk.XunitException>(() => ConformanceRunner.RunPrimitive(wrong, primitive));
        Assert.Contains($"twisted {primitive} (", e.Message);
        Assert.Contains("FOVEA_CONFORMANCE_SEED=", e.Message);
        Assert.Contains("worst at", e.Message);
    }
}

/// <summary>The CPU backend with one primitive's result transformed: a stand-in for a subtly broken backend.</summary>
public class Twisted : DispatchProxy
{
    private string _primitive = "";
    private Func<object?[], object?, object?> _twist = (_, r) => r;

    /// <summary>A backend named "twisted" that forwards to <see cref="Backend.Cpu"/> and passes <paramref name="primitive"/>'s result through <paramref name="twist"/>.</summary>
    public static IBackend Backend(string primitive, Func<object?[], object?, object?> twist)
    {
        var proxy = Create<IBackend, Twisted>();
        var t = (Twisted)(object)proxy;
        t._primitive = primitive;
        t._twist = twist;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? method, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (method.Name == "get_Name") return "twisted";
        object? result;
        try { result = method.Invoke(Fovea.Backends.Backend.Cpu, args); }
        catch (TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
        return method.Name == _primitive ? _twist(args ?? [], result) : result;
    }
}
