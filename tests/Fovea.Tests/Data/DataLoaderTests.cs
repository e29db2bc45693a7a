using Fovea.Data;

namespace Fovea.Tests.Data;

public class DataLoaderTests
{
    private static (Tensor X, Tensor Y) Make(int n)
    {
        var x = Tensor.Arange(n * 2, DType.Float32).Reshape(n, 2);
        var y = Tensor.Arange(n, DType.Int32);
        return (x, y);
    }

    [Theory]
    [InlineData(10, 3, false, 4)]
    [InlineData(10, 3, true, 3)]
    [InlineData(9, 3, false, 3)]
    [InlineData(1, 5, false, 1)]
    [InlineData(1, 5, true, 0)]
    public void BatchCountAndSizes(int n, int batch, bool dropLast, int expected)
    {
        var (x, y) = Make(n);
        var loader = DataLoader.FromTensors(x, y, batch, dropLast: dropLast);
        var batches = loader.ToList();
        Assert.Equal(expected, batches.Count);
        Assert.Equal(expected, loader.BatchCount);
        int seen = batches.Sum(b => b.Input.Size(0));
        Assert.Equal(dropLast ? n / batch * batch : n, seen);
        Assert.All(batches, b => Assert.Equal(b.Input.Size(0), b.Target.Size(0)));
    }

    [Fact]
    public void WithoutShuffle_OrderIsSequential_AndRowsStayPaired()
    {
        var (x, y) = Make(7);
        var labels = DataLoader.FromTensors(x, y, 3).SelectMany(b => b.Target.ToArray<int>()).ToArray();
        Assert.Equal(Enumerable.Range(0, 7), labels);
        foreach (var (input, target) in DataLoader.FromTensors(x, y, 3))
            for (int i = 0; i < target.Numel; i++)
                Assert.Equal(target[i] * 2, input[i, 0]);
    }

    [Fact]
    public void Shuffle_IsAPermutation_SeededPerEpoch()
    {
        var (x, y) = Make(50);
        var a = DataLoader.FromTensors(x, y, 8, shuffle: true, seed: 7);
        var e0 = a.SelectMany(b => b.Target.ToArray<int>()).ToArray();
        var e1 = a.SelectMany(b => b.Target.ToArray<int>()).ToArray();
        Assert.Equal(Enumerable.Range(0, 50), e0.Order());
        Assert.NotEqual(Enumerable.Range(0, 50), e0);
        Assert.NotEqual(e0, e1);
        // Another loader with the same seed reproduces both epochs; resuming at epoch 1 reproduces epoch 1.
        var b = DataLoader.FromTensors(x, y, 8, shuffle: true, seed: 7);
        Assert.Equal(e0, b.SelectMany(t => t.Target.ToArray<int>()));
        var c = DataLoader.FromTensors(x, y, 8, shuffle: true, seed: 7);
        c.Epoch = 1;
        Assert.Equal(e1, c.SelectMany(t => t.Target.ToArray<int>()));
        var d = DataLoader.FromTensors(x, y, 8, shuffle: true, seed: 8);
        Assert.NotEqual(e0, d.SelectMany(t => t.Target.ToArray<int>()));
    }

    [Fact]
    public void Prefetch_GivesTheSameBatchesAsNoPrefetch()
    {
        var (x, y) = Make(33);
        var a = DataLoader.FromTensors(x, y, 4, shuffle: true, seed: 3, prefetch: 0).Select(b => b.Input.ToArray<float>()).ToList();
        var b = DataLoader.FromTensors(x, y, 4, shuffle: true, seed: 3, prefetch: 3).Select(b => b.Input.ToArray<float>()).ToList();
        Assert.Equal(a, b);
    }

    [Fact]
    public void BreakingOutEarly_StopsTheProducer()
    {
        var (x, y) = Make(100);
        var loader = DataLoader.FromTensors(x, y, 2, prefetch: 2);
        foreach (var _ in loader) break;
        Assert.Equal(50, loader.Count());
    }

    [Fact]
    public void CollateFunction_BuildsBatchesFromItems()
    {
        var ds = new Squares(10);
        var loader = new DataLoader<int, int[]>(ds, 4, items => items.ToArray());
        Assert.Equal([[0, 1, 4, 9], [16, 25, 36, 49], [64, 81]], loader.ToList());
    }

    [Fact]
    public void CollateErrors_SurfaceWithAClearMessage()
    {
        var loader = new DataLoader<int, int[]>(new Squares(10), 4, items => items.Any(i => i > 40) ? throw new InvalidDataException("bad item") : items.ToArray());
        var e = Assert.Throws<InvalidOperationException>(() => loader.ToList());
        Assert.Contains("bad item", e.Message);
    }

    [Fact]
    public void BadArguments_AreRejected()
    {
        var (x, y) = Make(4);
        Assert.Throws<ArgumentOutOfRangeException>(() => DataLoader.FromTensors(x, y, 0));
        Assert.Throws<ShapeException>(() => new TensorDataset(x, Tensor.Zeros(3)));
        Assert.Throws<ArgumentException>(() => new DataLoader<int, int[]>(new Squares(3), 2));
    }

    private sealed class Squares(int n) : IDataset<int>
    {
        public int Count => n;
        public int this[int index] => index * index;
    }
}
