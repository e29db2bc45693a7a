using Fovea.Backends;

namespace Fovea.Tests.NN;

/// <summary>The CPU backend's conv and pooling primitives against the reference backend on larger random shapes.</summary>
public class ConvBackendTests
{
    private static Tensor R(ulong seed, DType dtype, params int[] shape) => Tensor.Randn(shape, new Generator(seed), dtype);

    private static void Close(Tensor expected, Tensor actual, double tol)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.To(DType.Float64).ToArray<double>();
        var a = actual.To(DType.Float64).ToArray<double>();
        for (int i = 0; i < e.Length; i++)
            Assert.True(Math.Abs(e[i] - a[i]) <= tol * (1 + Math.Abs(e[i])), $"[{i}]: expected {e[i]}, got {a[i]}");
    }

    public static TheoryData<int[], int[], int, int, int, int> ConvShapes => new()
    {
        // x shape, w shape, stride, padding, dilation, groups
        { [4, 3, 17, 15], [8, 3, 3, 3], 1, 1, 1, 1 },
        { [3, 8, 16, 16], [8, 4, 5, 5], 2, 2, 1, 2 },
        { [2, 6, 12, 13], [6, 1, 3, 3], 1, 2, 2, 6 },
        { [9, 16, 7, 7], [12, 16, 1, 1], 1, 0, 1, 1 },
        { [2, 5, 20, 11], [7, 5, 4, 2], 3, 1, 1, 1 },
    };

    [Theory, MemberData(nameof(ConvShapes))]
    public void Conv_primitives_match_reference(int[] xs, int[] ws, int stride, int padding, int dilation, int groups)
    {
        var geo = new Conv2dGeometry(stride, stride, padding, padding, dilation, dilation, groups);
        foreach (var (dtype, tol) in new[] { (DType.Float64, 1e-12), (DType.Float32, 2e-4) })
        {
            var x = R(1, dtype, xs);
            // A non-contiguous weight: the backend must read strided inputs correctly.
            var w = R(2, dtype, ws[1], ws[0], ws[2], ws[3]).Transpose(0, 1);
            var b = R(3, dtype, ws[0]);
            var y = Backend.Cpu.Conv2d(x, w, b, geo);
            Close(Backend.Reference.Conv2d(x, w, b, geo), y, tol);
            var g = R(4, dtype, y.Shape);
            Close(Backend.Reference.Conv2dBackwardInput(g, w, xs, geo), Backend.Cpu.Conv2dBackwardInput(g, w, xs, geo), tol);
            Close(Backend.Reference.Conv2dBackwardWeight(x, g, ws, geo), Backend.Cpu.Conv2dBackwardWeight(x, g, ws, geo), tol * 10);
        }
    }

    [Theory]
    [InlineData(2, 2, 0, 1, false)]
    [InlineData(3, 2, 1, 1, true)]
    [InlineData(3, 1, 1, 2, false)]
    public void Pool_primitives_match_reference(int k, int s, int p, int d, bool includePad)
    {
        foreach (var dtype in new[] { DType.Float64, DType.Float32 })
        {
            var x = R(5, dtype, 3, 5, 13, 12);
            var geo = new Pool2dGeometry(k, k, s, s, p, p, d, d, CountIncludePad: includePad);
            var (v, i) = Backend.Cpu.MaxPool2d(x, geo);
            var (rv, ri) = Backend.Reference.MaxPool2d(x, geo);
            Close(rv, v, 0);
            Assert.Equal(ri.ToArray<int>(), i.ToArray<int>());
            var g = R(6, dtype, v.Shape);
            Close(Backend.Reference.MaxPool2dBackward(g, i, x.Shape), Backend.Cpu.MaxPool2dBackward(g, i, x.Shape), 1e-6);
            if (d != 1) continue;
            Close(Backend.Reference.AvgPool2d(x, geo), Backend.Cpu.AvgPool2d(x, geo), 1e-6);
            Close(Backend.Reference.AvgPool2dBackward(g, x.Shape, geo), Backend.Cpu.AvgPool2dBackward(g, x.Shape, geo), 1e-6);
        }
    }

    [Fact]
    public void Ops_give_the_same_gradients_on_both_backends()
    {
        Tensor[] Run(IBackend backend)
        {
            using var _ = Backend.Use(backend);
            var x = R(7, DType.Float64, 2, 4, 9, 9).RequiresGrad_();
            var w = R(8, DType.Float64, 6, 2, 3, 3).RequiresGrad_();
            var y = Fovea.NN.Functional.Conv2d(x, w, stride: 2, padding: 1, groups: 2);
            var z = Fovea.NN.Functional.MaxPool2d(y, 2, stride: 1).Add(Fovea.NN.Functional.AvgPool2d(y, 2, stride: 1));
            var grads = Fovea.Autograd.Grad([z.Square().Sum()], [x, w]);
            return [z.Detach(), grads[0]!, grads[1]!];
        }
        var cpu = Run(Backend.Cpu);
        var reference = Run(Backend.Reference);
        for (int i = 0; i < cpu.Length; i++) Close(reference[i], cpu[i], 1e-10);
    }
}
