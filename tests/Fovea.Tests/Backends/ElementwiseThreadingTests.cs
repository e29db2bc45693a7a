namespace Fovea.Tests.Backends;

/// <summary>
/// Elementwise passes split over threads by the bytes they move (contiguous passes in ranges of whole 64-element
/// blocks, strided ones in ranges of rows): every thread count must give the serial bits, for the vectorised
/// transcendental kernels as well, and cover every element exactly once.
/// </summary>
[Collection("Global thread count")]
public class ElementwiseThreadingTests
{
    private static float[] WithThreads(int threads, Func<Tensor> f)
    {
        int saved = Threading.MaxDegreeOfParallelism;
        try
        {
            Threading.MaxDegreeOfParallelism = threads;
            return f().Contiguous().ToArray<float>();
        }
        finally { Threading.MaxDegreeOfParallelism = saved; }
    }

    public static TheoryData<string> Ops() => new() { "exp", "tanh", "sigmoid", "relu", "add", "mul_broadcast", "add_transposed", "copy_transposed" };

    private static Tensor Run(string op, Tensor a, Tensor b) => op switch
    {
        "exp" => a.Exp(),
        "tanh" => a.Tanh(),
        "sigmoid" => a.Sigmoid(),
        "relu" => a.Relu(),
        "add" => a.Add(b),
        // [n, 1] against [n, 1000]: rows of a broadcast operand (the strided path).
        "mul_broadcast" => b.Reshape(-1, 1000).Mul(a.Reshape(-1, 1000).Narrow(1, 0, 1)),
        "add_transposed" => a.Reshape(1000, -1).T.Add(b.Reshape(-1, 1000)),
        "copy_transposed" => a.Reshape(1000, -1).T.Contiguous(),
        _ => throw new ArgumentException(op),
    };

    [Theory]
    [MemberData(nameof(Ops))]
    public void EveryThreadCount_GivesTheSerialBits(string op)
    {
        // 1,000 x 301 floats: 1.2 MB per operand (2.4 MB for a unary pass, 3.6 MB for a binary one), two or three
        // threads' worth under the 1 MiB rule, and a length that is no multiple of the 64-element split or of any vector width.
        var g = new Generator(11);
        var a = Tensor.Uniform([1000 * 301], -4, 4, g);
        var b = Tensor.Uniform([1000 * 301], -4, 4, g);
        float[] serial = WithThreads(1, () => Run(op, a, b));
        Assert.Equal(1000 * 301, serial.Length);
        foreach (int threads in new[] { 2, 3 })
            Assert.Equal(serial, WithThreads(threads, () => Run(op, a, b)));
        // The split covers every element: spot-check against the scalar rule.
        float[] x = a.ToArray<float>(), y = b.ToArray<float>();
        if (op == "exp") Assert.Equal(MathF.Exp(x[^1]), serial[^1], 5e-6f * MathF.Exp(x[^1]));
        if (op == "add") Assert.Equal(x[^1] + y[^1], serial[^1]);
        if (op == "relu") Assert.Equal(Math.Max(x[123_456], 0f), serial[123_456]);
    }
}
