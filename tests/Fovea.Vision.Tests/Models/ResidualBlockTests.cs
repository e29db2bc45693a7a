using Fovea.NN;
using Fovea.Vision.Models;

namespace Fovea.Vision.Tests.Models;

/// <summary>The one <see cref="BasicBlock"/> and <see cref="Bottleneck"/> with either shortcut, and the names they give the CIFAR ResNets.</summary>
public class ResidualBlockTests
{
    [Fact]
    public void CifarResNet20_names_its_parameters_by_stage_block_and_layer()
    {
        var expected = new List<string> { "conv1.weight", "bn1.weight", "bn1.bias" };
        for (int stage = 1; stage <= 3; stage++)
            for (int block = 0; block < 3; block++)
                foreach (string layer in new[] { "conv1.weight", "bn1.weight", "bn1.bias", "conv2.weight", "bn2.weight", "bn2.bias" })
                    expected.Add($"layer{stage}.{block}.{layer}");
        expected.AddRange(["fc.weight", "fc.bias"]);
        Assert.Equal(expected, new CifarResNet(20).NamedParameters().Select(p => p.Name).ToList());
    }

    [Theory]
    [InlineData(ResidualShortcut.Projection, "downsample", 4 * 2 + 4 + 4)] // 1x1 conv 2 -> 4, batch norm weight and bias
    [InlineData(ResidualShortcut.ZeroPad, "shortcut", 0)]
    public void A_block_that_changes_shape_gets_the_shortcut_it_was_built_with(ResidualShortcut kind, string name, int shortcutParameters)
    {
        var block = new BasicBlock(2, 4, 2, new Generator(1), kind);
        Assert.Equal(["conv1", "bn1", "relu", "conv2", "bn2", name], block.NamedChildren().Select(c => c.Name));
        long body = 4 * 2 * 9 + 4 + 4 + 4 * 4 * 9 + 4 + 4;
        Assert.Equal(body + shortcutParameters, block.ParameterCount());
        var same = new BasicBlock(4, 4, 1, new Generator(1), kind);
        Assert.Equal(["conv1", "bn1", "relu", "conv2", "bn2"], same.NamedChildren().Select(c => c.Name));
    }

    [Fact]
    public void The_zero_pad_block_adds_the_padded_input_to_its_body()
    {
        var block = new BasicBlock(2, 4, 2, new Generator(2), ResidualShortcut.ZeroPad);
        block.Eval();
        var x = Tensor.Randn([1, 2, 6, 6], new Generator(3));
        var children = block.NamedChildren().ToDictionary(c => c.Name, c => (Module<Tensor, Tensor>)c.Module);
        var body = children["bn2"].Forward(children["conv2"].Forward(children["bn1"].Forward(children["conv1"].Forward(x)).Relu()));
        var expected = (body + new PadShortcut(2, 4, 2).Forward(x)).Relu();
        Assert.True(expected.AllClose(block.Forward(x), 1e-6, 1e-6));
    }

    [Fact]
    public void A_bottleneck_takes_either_shortcut_too()
    {
        var projection = new Bottleneck(8, 4, 2, new Generator(1));
        var zeroPad = new Bottleneck(8, 4, 2, new Generator(1), ResidualShortcut.ZeroPad);
        Assert.Equal(projection.ParameterCount() - (16 * 8 + 16 + 16), zeroPad.ParameterCount());
        Assert.Equal([1, 16, 3, 3], zeroPad.Forward(Tensor.Randn([1, 8, 6, 6], new Generator(4))).Shape);
    }
}
