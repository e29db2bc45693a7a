namespace Fovea.Tests.Tensors;

public class StorageBudgetTests
{
    [Fact]
    public void AllocationsWithinTheBudget_AreCounted()
    {
        using var budget = StorageBudget.Limit(1000);
        Tensor.Zeros(10, 10);                              // 400 bytes
        Tensor.FromArray(new double[50], 50);              // 400 bytes
        Assert.Equal(800, budget.AllocatedBytes);
        Tensor.Ones([50], DType.Int32);                    // 200 bytes: exactly the limit
        Assert.Equal(1000, budget.AllocatedBytes);
    }

    [Theory]
    [InlineData(DType.Float32, 4)]
    [InlineData(DType.Float64, 8)]
    [InlineData(DType.Int32, 4)]
    [InlineData(DType.Bool, 1)]
    public void AnAllocationPastTheBudget_ThrowsBeforeTakingMemory(DType dtype, int size)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<StorageBudgetExceededException>(() =>
        {
            using var budget = StorageBudget.Limit(1 << 20);
            Tensor.Zeros([1 << 30], dtype);
        });
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the refused storage was allocated");
        Assert.Equal((long)size << 30, e.RequestedBytes);
        Assert.Equal(1 << 20, e.LimitBytes);
        Assert.Contains($"allocating {(long)size << 30} bytes", e.Message);
    }

    [Fact]
    public void EveryFactoryAndOpOutputIsCounted()
    {
        using var budget = StorageBudget.Limit(1000);
        Tensor.FromSpan<float>(new float[4], 4);
        Tensor.Randn([4], new Generator(1));
        var sum = Tensor.Zeros(4).Add(Tensor.Ones(4));
        Assert.Equal(4, sum.Numel);
        // Four 16-byte tensors made directly and at least the sum's own storage.
        Assert.InRange(budget.AllocatedBytes, 80, 1000);
        long left = budget.LimitBytes - budget.AllocatedBytes;
        Assert.Throws<StorageBudgetExceededException>(() => Tensor.FromArray(new int[left / 4 + 1]));
    }

    [Fact]
    public void InnerScopes_AreLimitedByTheOuterAndChargeIt()
    {
        using var outer = StorageBudget.Limit(100);
        Tensor.Zeros(10); // 40
        using (var inner = StorageBudget.Limit(1000))
        {
            Assert.Equal(60, inner.LimitBytes);
            Tensor.Zeros(10); // 40
            Assert.Throws<StorageBudgetExceededException>(() => Tensor.Zeros(10));
        }
        Assert.Equal(80, outer.AllocatedBytes);
        Assert.Throws<StorageBudgetExceededException>(() => Tensor.Zeros(10));
    }

    [Fact]
    public void AfterTheScope_AndOnOtherThreads_NothingIsLimited()
    {
        using (StorageBudget.Limit(0))
        {
            int numel = 0;
            var other = new Thread(() => numel = Tensor.Zeros(1000).Numel);
            other.Start();
            other.Join();
            Assert.Equal(1000, numel);
            Assert.Throws<StorageBudgetExceededException>(() => Tensor.Zeros(1));
        }
        Assert.Equal(1000, Tensor.Zeros(1000).Numel);
    }

    [Fact]
    public void ANegativeBudget_IsAnArgumentError() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => StorageBudget.Limit(-1));
}
