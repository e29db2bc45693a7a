using Fovea.NN;

namespace Fovea.Tests.NN;

/// <summary>State registered by a layer (dropout's generator) travels in the state dict; batch norm's counter is a buffer.</summary>
public class ModuleStateTests
{
    [Fact]
    public void Dropout_GeneratorPosition_IsInTheStateDict_AndRestoresTheSameMasks()
    {
        var net = new Sequential(new Linear(4, 4, generator: new Generator(1)), new Dropout(0.5, new Generator(ulong.MaxValue - 3)));
        var x = Tensor.Ones(8, 4);
        net.Forward(x); // advance the generator
        var sd = net.StateDict();
        Assert.Equal(["0.weight", "0.bias", "1.rng_state"], sd.Keys);
        Assert.Equal(DType.Int32, sd["1.rng_state"].DType);
        var expected = net.Forward(x);

        var copy = new Sequential(new Linear(4, 4, generator: new Generator(2)), new Dropout(0.5, new Generator(0)));
        copy.LoadStateDict(sd);
        Assert.True(copy.Forward(x).Equal(expected)); // same weights, same seed and position: the same mask
        Assert.Equal(((Dropout)net[1]).Generator.State, ((Dropout)copy[1]).Generator.State);
    }

    [Fact]
    public void RegisteredState_MayBeAbsent_ButNotMalformedOrUnexpected()
    {
        var net = new Sequential(new Linear(2, 2), new Dropout(0.5, new Generator(9)));
        var weightsOnly = new StateDict();
        foreach (var (name, p) in net.NamedParameters()) weightsOnly.Add(name, p.Clone());
        net.LoadStateDict(weightsOnly); // weights saved elsewhere (torchvision, ONNX) have no generator
        Assert.Equal((9UL, 0L), ((Dropout)net[1]).Generator.State);

        var bad = net.StateDict();
        bad["1.rng_state"] = Tensor.Zeros(3);
        var e = Assert.Throws<ArgumentException>(() => net.LoadStateDict(bad));
        Assert.Contains("1.rng_state", e.Message);
        Assert.Contains("int32 [4]", e.Message);
        var negative = net.StateDict();
        negative["1.rng_state"] = Tensor.FromArray(new[] { 1, 0, 0, -1 }, 4);
        Assert.Contains("non-negative", Assert.Throws<ArgumentException>(() => net.LoadStateDict(negative)).Message);

        var extra = net.StateDict();
        extra.Add("2.rng_state", Tensor.Zeros([4], DType.Int32));
        Assert.Contains("unexpected keys: 2.rng_state", Assert.Throws<ArgumentException>(() => net.LoadStateDict(extra)).Message);
    }

    [Fact]
    public void BatchNorm_BatchCount_IsABufferOfTheStateDict()
    {
        var bn = new BatchNorm1d(3);
        bn.Forward(Tensor.Randn([4, 3], new Generator(1)));
        bn.Forward(Tensor.Randn([4, 3], new Generator(2)));
        var sd = bn.StateDict();
        Assert.Equal(2, sd["num_batches_tracked"].ToScalar());
        var other = new BatchNorm1d(3);
        other.LoadStateDict(sd);
        Assert.Equal(2, other.NumBatchesTracked);
    }
}
