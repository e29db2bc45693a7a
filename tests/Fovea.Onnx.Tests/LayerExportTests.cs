using Fovea.NN;
using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx.Tests;

/// <summary>
/// Sequential compositions of every layer the exporter knows, with their attribute variants (padding modes,
/// strides, dilations, groups, ceil mode, count_include_pad, output padding, nearest and bilinear upsampling to a
/// scale and to a size, adaptive pooling with unequal bins, per-channel PReLU), exported at opsets 13, 17 and 21
/// and run in ONNX Runtime at batch 1 and 3; and the errors for what has no ONNX form.
/// </summary>
public sealed class LayerExportTests
{
    internal static Sequential ConvolutionalStack(int opset)
    {
        var g = new Generator(11);
        var stack = new Sequential(
            new Conv2d(3, 4, 3, padding: 1, paddingMode: PaddingMode.Reflect, generator: g),
            new BatchNorm2d(4),
            new PReLU(4),
            new Conv2d(4, 6, (3, 2), stride: (2, 1), padding: (1, 1), groups: 2, bias: false, paddingMode: PaddingMode.Replicate, generator: g),
            new MaxPool2d(3, 2, 1, ceilMode: true),
            new LeakyReLU(0.2),
            new ConvTranspose2d(6, 4, 3, stride: 2, padding: 1, outputPadding: 1, generator: g),
            new ELU(0.7),
            new AvgPool2d(3, 2, 1, ceilMode: true, countIncludePad: false),
            new Upsample(2.0),
            new Tanh(),
            new Conv2d(4, 4, 3, dilation: 2, padding: 2, generator: g),
            new Upsample((7, 5), InterpolationMode.Bilinear, alignCorners: false),
            new Sigmoid(),
            new AvgPool2d(2, 1),
            new Upsample((9, 9), InterpolationMode.Bilinear, alignCorners: true),
            new MaxPool2d(2, 2, dilation: 2),
            new AdaptiveAvgPool2d((4, 3)),
            new Flatten(),
            new Linear(4 * 4 * 3, 12, generator: g),
            new GELU(),
            new Linear(12, 10, generator: g),
            new GELU(GeluApproximation.Tanh),
            new Softplus(2, 1),
            new Maxout(10, 6, 3, g),
            new Dropout(0.5, g));
        if (opset >= 17) stack.Append(new LayerNorm(6));
        stack.Append(new Softmax(1));
        return stack;
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    [InlineData(21)]
    public void ConvolutionalCompositionAgreesWithOnnxRuntime(int opset)
    {
        var model = ConvolutionalStack(opset);
        ExportedSession.RandomizeNormalization(model);
        using var session = new ExportedSession(OnnxModel.ExportToBytes(model, [1, 3, 12, 12], opset));
        double error = session.WorstRelativeError(model, [3, 12, 12], 1, 3);
        Assert.True(error <= ExportedSession.Tolerance, $"opset {opset}: {error:E2}");
    }

    [Theory]
    [InlineData(13)]
    [InlineData(21)]
    public void FullyConnectedCompositionAgreesWithOnnxRuntime(int opset)
    {
        var g = new Generator(2);
        var model = new Sequential(
            new Flatten(2, 3),
            new Linear(20, 8, generator: g),
            new Flatten(),
            new Linear(24, 16, bias: false, generator: g),
            new BatchNorm1d(16),
            new PReLU(),
            new Linear(16, 5, generator: g),
            new LogSoftmax(1));
        ExportedSession.RandomizeNormalization(model);
        using var session = new ExportedSession(OnnxModel.ExportToBytes(model, [2, 3, 4, 5], opset));
        Assert.True(session.WorstRelativeError(model, [3, 4, 5], 1, 3) <= ExportedSession.Tolerance);
    }

    [Fact]
    public void CircularPaddingNeedsOpset19()
    {
        var model = new Sequential(new Conv2d(2, 3, 3, padding: 1, paddingMode: PaddingMode.Circular, generator: new Generator(4)));
        var error = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(model, [1, 2, 6, 6], 17));
        Assert.Contains("'0'", error.Message);
        Assert.Contains("opset 19", error.Message);
        using var session = new ExportedSession(OnnxModel.ExportToBytes(model, [1, 2, 6, 6], 19));
        Assert.True(session.WorstRelativeError(model, [2, 6, 6], 1, 3) <= ExportedSession.Tolerance);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(22)]
    public void OpsetsOutsideTheRangeAreRefused(int opset)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => OnnxModel.ExportToBytes(new Sequential(new ReLU()), [1, 3], opset));
        Assert.Contains("13 to 21", error.Message);
    }

    private sealed class Doubler : Module<Tensor, Tensor>
    {
        public override Tensor Forward(Tensor input) => input * 2;
    }

    private sealed class ReversedSequential : Sequential
    {
        public ReversedSequential() : base(new Linear(3, 3, generator: new Generator(1)), new Tanh()) { }

        public override Tensor Forward(Tensor input) => Layers[0].Forward(Layers[1].Forward(input));
    }

    [Fact]
    public void UnknownModulesAreNamedByPathAndType()
    {
        var model = new Sequential(("body", new Sequential(new Linear(3, 3), new Doubler())));
        var error = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(model, [1, 3]));
        Assert.Contains("'body.1'", error.Message);
        Assert.Contains(nameof(Doubler), error.Message);

        var stats = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(new Sequential(new BatchNorm1d(3, trackRunningStats: false)), [2, 3]));
        Assert.Contains("running statistics", stats.Message);

        var custom = Assert.Throws<NotSupportedException>(() => OnnxModel.ExportToBytes(new ReversedSequential(), [1, 3]));
        Assert.Contains("composition of its layers", custom.Message);

        Assert.Throws<ArgumentException>(() => OnnxModel.ExportToBytes(new Sequential(new ReLU()), [0, 3]));
        Assert.Throws<ArgumentException>(() => OnnxModel.ExportToBytes(new Sequential(new Linear(3, 2).To(DType.Float64) as Linear ?? throw new InvalidOperationException()), [1, 3]));
    }

    [Fact]
    public void ExportWritesTheFileAtomicallyAndKeepsTheTrainingMode()
    {
        string dir = Path.Combine(Path.GetTempPath(), "fovea-export-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var model = new Sequential(new Linear(4, 3, generator: new Generator(1)), new BatchNorm1d(3), new Dropout(0.5));
            model[2].Eval();
            string path = Path.Combine(dir, "model.onnx");
            OnnxModel.Export(model, [5, 4], path, 13);
            Assert.Equal([path], Directory.GetFiles(dir));
            Assert.Equal(13, ModelProto.Parser.ParseFrom(File.ReadAllBytes(path)).OpsetImport.Single().Version);
            Assert.True(model.Training && model[1].Training);
            Assert.False(model[2].Training);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
