using Fovea.NN;
using F = Fovea.NN.Functional;

namespace Fovea.Tests.NN;

/// <summary>
/// Local response normalisation against PyTorch. The reference values are libtorch 2.10.0's own
/// <c>torch.nn.functional.local_response_norm</c> (called through TorchSharp 0.107.0, the bench's PyTorch binding) in
/// float64 on x_i = 2·sin(0.7·i + 0.3) and upstream gradient g_i = cos(1.3·i) (i the flat index), with the
/// gradient from <c>torch.autograd.grad((y * g).sum(), x)</c>: the same calls as
/// <c>y = F.local_response_norm(x, size, alpha, beta, k); gx, = torch.autograd.grad((y * g).sum(), x)</c> in Python.
/// </summary>
public class LocalResponseNormTests
{
    private sealed record Reference(int[] Shape, int Size, double Alpha, double Beta, double K, double[] Y, double[] GradX);

    private static readonly Dictionary<string, Reference> PyTorch = new()
    {
        ["odd"] = new(new[] { 2, 5, 2 }, 3, 0.3, 0.75, 1.5,
            [0.3611914745220116, 1.0137393693303263, 1.2117092209109215, 0.770150058335263, 0.04487480021410804, -0.690548782447679, -1.1898854478872825, -1.0503080521508399, -0.45521815213250527, 0.3926335149926849, 1.0247834148655155, 1.2266793230244455, 0.754323138254802, 0.026734729759735006, -0.7068907570310028, -1.1951226958109595, -1.0388556088288479, -0.39241443900619544, 0.4129745337602996, 1.084741458455155],
            [0.6422252364007635, 0.19302148092211524, -0.4218536676493553, -0.3245223902331043, 0.25982918199027744, 0.5361793495364484, 0.0644761416087706, -0.47843953627764896, -0.3304520728940219, 0.34874372196886594, 0.5161975000592306, -0.0680117233978087, -0.537043885509784, -0.19504112737709586, 0.3706408914587558, 0.39042046780326684, -0.24805696956988957, -0.521157989505123, -0.11698778068947753, 0.3905779399524737]),
        ["even"] = new(new[] { 1, 6, 2, 1 }, 4, 0.8, 0.6, 2,
            [0.31485375983634845, 0.8827116001237284, 1.05623477885084, 0.66839487965684, 0.03841688047642741, -0.5445557504095082, -0.8969324358773265, -0.8529120614754013, -0.3552996638613241, 0.2803714080450768, 0.8083746594148099, 0.935522279776563],
            [0.5612931864127042, 0.22414195423266164, -0.3541432928156106, -0.3697176605267467, 0.22176818337609777, 0.4345731388895969, 0.14757308499622834, -0.41226397127867853, -0.22047193152853817, 0.25482991999892535, 0.3210684644617939, -0.0787636652439999]),
        ["alexnet"] = new(new[] { 1, 7, 1, 2 }, 5, 1e-4, 0.75, 2,
            [0.35142342581981667, 1.0006370923283887, 1.1792231041841676, 0.8032097370952479, 0.049444804040117286, -0.7275730180952035, -1.1623880021340869, -1.0505258805960809, -0.44458664933613473, 0.37046240729238583, 1.0112767733686367, 1.1764863249484554, 0.7883769185273735, 0.02946216074959323],
            [0.5945900643913671, 0.15907430979586784, -0.5094573235105271, -0.43161128647209224, 0.2785641237817338, 0.5806442343285855, 0.03208281949061691, -0.5634798096890636, -0.33353676797488213, 0.38503429056842353, 0.539526357326615, -0.09641913437886553, -0.5911260761386478, -0.2198584532989608]),
        ["5-d"] = new(new[] { 1, 7, 1, 1, 2 }, 5, 2, 0.75, 1,
            [0.27936852996165695, 0.6631049543733841, 0.6706545242303708, 0.4224912725050733, 0.0270582977036482, -0.3735098923965481, -0.5454076164467971, -0.5058904481358744, -0.23745215302428677, 0.19934051951606696, 0.5403622171131399, 0.7033849620687956, 0.5697422116777433, 0.02337958842987093],
            [0.4831986303408807, 0.1950978469173896, -0.2480477229815909, -0.2283611063353512, 0.1527505601030479, 0.32002571406992597, 0.01182306235992278, -0.32441880485116037, -0.2010379692323618, 0.20274563387291927, 0.3432665539032371, -0.16071690326371657, -0.388600203234766, -0.17435953191851966]),
    };

    public static TheoryData<string> Cases() => [.. PyTorch.Keys];

    private static Tensor Formula(int[] shape, Func<int, double> f)
    {
        int n = shape.Aggregate(1, (a, b) => a * b);
        return Tensor.FromArray(Enumerable.Range(0, n).Select(f).ToArray(), shape);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ForwardAndBackward_EqualPyTorch(string name)
    {
        var r = PyTorch[name];
        var x = Formula(r.Shape, i => 2 * Math.Sin(0.7 * i + 0.3)).RequiresGrad_();
        var g = Formula(r.Shape, i => Math.Cos(1.3 * i));
        var y = F.LocalResponseNorm(x, r.Size, r.Alpha, r.Beta, r.K);
        Assert.Equal(r.Shape, y.Shape);
        var gx = Fovea.Autograd.Grad([y], [x], [g])[0]!;
        var (ys, gs) = (y.ToArray<double>(), gx.ToArray<double>());
        for (int i = 0; i < ys.Length; i++)
        {
            Assert.Equal(r.Y[i], ys[i], 1e-13);
            Assert.Equal(r.GradX[i], gs[i], 1e-13);
        }
    }

    [Fact]
    public void UnevenWindow_LooksTwoChannelsBackAndOneAhead()
    {
        // n = 4: c' = c − 2 … c + 1 (zero outside 0 … 7), α/n = 1/4: written out per channel.
        var x = Tensor.Full([1, 8, 1], 0.5, DType.Float64);
        x[0, 3, 0] = 3.0;
        var y = F.LocalResponseNorm(x, 4, alpha: 1, beta: 1, k: 1).ToArray<double>();
        for (int c = 0; c < 8; c++)
        {
            double sum = Enumerable.Range(c - 2, 4).Where(j => j >= 0 && j < 8).Sum(j => j == 3 ? 9.0 : 0.25);
            double expected = (c == 3 ? 3.0 : 0.5) / (1 + sum / 4);
            Assert.Equal(expected, y[c], 14);
        }
    }

    [Fact]
    public void Float32_AgreesWithFloat64_AndModuleCallsTheFunction()
    {
        var x = Tensor.Randn([2, 9, 3, 3], new Generator(4), DType.Float64).Mul(20);
        var layer = new LocalResponseNorm(5, 1e-3, 0.75, 2);
        Assert.Empty(layer.Parameters());
        Assert.Equal("LocalResponseNorm(5, alpha=0.001, beta=0.75, k=2)", layer.Describe());
        var y64 = layer.Forward(x);
        Assert.True(y64.Equal(F.LocalResponseNorm(x, 5, 1e-3, 0.75, 2)));
        var y32 = layer.Forward(x.To(DType.Float32));
        Assert.Equal(DType.Float32, y32.DType);
        Assert.True(y32.To(DType.Float64).AllClose(y64, 1e-5, 1e-5));
    }

    [Fact]
    public void BadArguments_AreClearErrors()
    {
        var e = Assert.Throws<ShapeException>(() => F.LocalResponseNorm(Tensor.Zeros(2, 3), 3));
        Assert.Contains("at least 3 dims", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LocalResponseNorm(0));
        Assert.Throws<ArgumentException>(() => F.LocalResponseNorm(Tensor.Zeros(1, 3, 2), 3, alpha: double.NaN));
        Assert.Throws<DTypeException>(() => F.LocalResponseNorm(Tensor.Zeros([1, 3, 2], DType.Int32), 3));
    }
}
