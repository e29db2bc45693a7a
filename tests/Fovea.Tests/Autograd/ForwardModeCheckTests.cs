namespace Fovea.Tests.Autograd;

/// <summary>Forward mode against reverse mode, ⟨J·v, u⟩ = ⟨v, Jᵀ·u⟩, as <c>fovea gradcheck</c> prints it per op.</summary>
public class ForwardModeCheckTests
{
    public static TheoryData<string> CaseNames() => [.. GradCheckTable.Cases.Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void EveryOp_ForwardModeEqualsReverseMode(string name)
    {
        var c = GradCheckTable.Cases.Single(k => k.Name == name);
        var r = ForwardModeCheck.Check(c.Function, c.Inputs(3), seed: 5);
        Assert.True(r.Passed, $"{name}: {r}");
    }

    [Fact]
    public void InnerProducts_AreTheHandComputedOnes()
    {
        // f(a, b) = a·b elementwise: J·v = b·v_a + a·v_b, so ⟨J·v, u⟩ = Σ u·(b·v_a + a·v_b) = ⟨v, Jᵀ·u⟩.
        var a = Tensor.From(1.0, -2.0, 3.0).RequiresGrad_();
        var b = Tensor.From(0.5, 4.0, -1.0).RequiresGrad_();
        var r = ForwardModeCheck.Check(x => x[0] * x[1], [a, b], seed: 9);
        var g = new Generator(9);
        var (va, vb) = (Tensor.Randn([3], g, DType.Float64), Tensor.Randn([3], g, DType.Float64));
        var u = Tensor.Randn([3], g, DType.Float64);
        double expected = u.Mul(b.Detach().Mul(va).Add(a.Detach().Mul(vb))).Sum().ToScalar();
        Assert.True(r.Passed);
        Assert.Equal(expected, r.Forward, 1e-14);
        Assert.Equal(expected, r.Reverse, 1e-14);
    }

    [Fact]
    public void WrongForwardRule_IsCaught()
    {
        var x = Tensor.From(0.3, -1.2, 2.0, 0.7).RequiresGrad_();
        var r = ForwardModeCheck.Check(t => new CubeWithWrongJvp().Apply(t[0]), [x]);
        Assert.False(r.Passed);
        Assert.Contains("MISMATCH", r.ToString());
        Assert.True(ForwardModeCheck.Check(t => t[0].Pow(3.0), [x]).Passed);
    }

    [Fact]
    public void Float32Inputs_AreRefused() =>
        Assert.Throws<DTypeException>(() => ForwardModeCheck.Check(t => t[0].Exp(), [Tensor.From(1f, 2f).RequiresGrad_()]));

    /// <summary>y = x³ with the right backward (3x²·g) and a forward rule that forgets the factor 3.</summary>
    private sealed class CubeWithWrongJvp : Function
    {
        protected override Tensor Forward(Tensor[] x)
        {
            SaveForBackward(x[0]);
            return x[0].Pow(3.0);
        }

        protected override Tensor?[] Backward(Tensor g) => [g.Mul(Saved[0].Square()).Mul(3)];

        protected override Tensor? Jvp(Tensor[] x, Tensor y, Tensor?[] t) => t[0]?.Mul(x[0].Square());
    }
}
