namespace Fovea.Vision.Tests;

/// <summary>Every row of <see cref="VisionGradCheckTable"/>: first derivatives and second derivatives against central differences.</summary>
public class VisionGradCheckTests
{
    public static TheoryData<string> Names()
    {
        var d = new TheoryData<string>();
        foreach (var c in VisionGradCheckTable.Cases) d.Add(c.Name);
        return d;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void GradCheckAndGradGradCheckPass(string name)
    {
        var c = VisionGradCheckTable.Cases.Single(r => r.Name == name);
        var first = GradCheck.Check(c.Function, c.Inputs(1));
        Assert.True(first.Passed, first.ToString());
        var second = GradCheck.GradGradCheck(c.Function, c.Inputs(1));
        Assert.True(second.Passed, second.ToString());
    }

    [Fact]
    public void AGradientOffByOnePercentIsCaught()
    {
        // The check is not vacuous: the same pipeline with a 1% error in one backward fails.
        var wrong = GradCheck.Check(x => new Scale101().Apply(Pyramids.PyrDown(x[0])), [GradCheckTable.N(1, 1, 5, 7)]);
        Assert.False(wrong.Passed);
    }

    // Identity forward whose backward is off by 1%.
    private sealed class Scale101 : Function
    {
        protected override Tensor Forward(Tensor[] inputs) => inputs[0].Clone();
        protected override Tensor?[] Backward(Tensor gradOutput) => [gradOutput * 1.01];
    }
}
