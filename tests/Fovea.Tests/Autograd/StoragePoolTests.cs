using F = Fovea.NN.Functional;

namespace Fovea.Tests.Autograd;

/// <summary>
/// The engine hands the gradient buffers that only its pass held to <see cref="StoragePool"/>: gradients come out the
/// same with and without it, the next tensor of that size reuses the buffer, and nothing a user can still reach (a
/// leaf's or retained gradient, one a hook or a user's Function kept, a captured one) is ever reused.
/// </summary>
[Collection("Global thread count")]
public class StoragePoolTests
{
    private const int Batch = 8;

    /// <summary>A small residual CNN: conv, ReLU, a skip connection (the gradient fans out), max pooling, a flatten view, a linear layer.</summary>
    private static Tensor Loss(Tensor x, Tensor w1, Tensor w2, Tensor lw, Tensor y)
    {
        var h = F.Conv2d(x, w1, padding: 1).Relu();
        var r = F.Conv2d(h, w2, padding: 1).Add(h).Relu();
        var p = F.MaxPool2d(r, 2).Reshape(Batch, -1);
        return F.CrossEntropy(F.Linear(p, lw), y);
    }

    private static (Tensor X, Tensor W1, Tensor W2, Tensor Lw, Tensor Y) Net()
    {
        var g = new Generator(11);
        return (Tensor.Randn([Batch, 3, 16, 16], g), Tensor.Randn([8, 3, 3, 3], g).Mul(0.3).RequiresGrad_(),
            Tensor.Randn([8, 8, 3, 3], g).Mul(0.2).RequiresGrad_(), Tensor.Randn([10, 8 * 8 * 8], g).Mul(0.05).RequiresGrad_(),
            Tensor.RandInt([Batch], 0, 10, g));
    }

    /// <summary>Allocates tensors of every size the net uses and fills them, so any reused buffer a user still held would change.</summary>
    private static void Scribble()
    {
        foreach (int n in new[] { Batch * 8 * 16 * 16, Batch * 8 * 8 * 8, Batch * 3 * 16 * 16 })
            for (int k = 0; k < 4; k++) Tensor.Full([n], -123.0);
    }

    [Fact]
    public void Gradients_are_the_same_with_and_without_the_pool_over_several_steps()
    {
        float[][] Run(bool pooled)
        {
            StoragePool.Enabled = pooled;
            try
            {
                var (x, w1, w2, lw, y) = Net();
                var grads = new List<float[]>();
                for (int step = 0; step < 3; step++)
                {
                    foreach (var p in new[] { w1, w2, lw }) p.Grad = null;
                    Loss(x.Add(step * 0.1), w1, w2, lw, y).Backward();
                    Scribble();
                    grads.AddRange(new[] { w1, w2, lw }.Select(p => p.Grad!.ToArray<float>()));
                }
                return [.. grads];
            }
            finally { StoragePool.Enabled = true; }
        }
        var off = Run(false);
        var on = Run(true);
        Assert.Equal(off.Length, on.Length);
        for (int i = 0; i < off.Length; i++) Assert.Equal(off[i], on[i]);
    }

    [Fact]
    public void A_dead_gradient_buffer_is_pooled_and_the_next_tensor_of_its_size_reuses_it_cleared()
    {
        StoragePool.Clear();
        var (x, w1, _, _, _) = Net();
        // relu(conv(x)) summed: ReLU's input gradient [8, 8, 16, 16] is made in the pass and dies in the conv's backward
        // (x needs no gradient); the weight gradient stays with w1.
        F.Conv2d(x, w1, padding: 1).Relu().Sum().Backward();
        long bytes = StoragePool.PooledBytes;
        Assert.True(bytes >= Batch * 8 * 16 * 16 * sizeof(float), $"pooled {bytes} bytes");
        var fresh = Tensor.Zeros([Batch * 8 * 16 * 16]);
        Assert.Equal(bytes - Batch * 8 * 16 * 16 * sizeof(float), StoragePool.PooledBytes);
        Assert.All(fresh.ToArray<float>(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void What_a_user_can_still_reach_is_never_reused()
    {
        StoragePool.Clear();
        var (x, w1, w2, lw, y) = Net();
        var h = F.Conv2d(x, w1, padding: 1).RetainGrad();
        Tensor? hooked = null;
        var r = F.Conv2d(h.Relu(), w2, padding: 1);
        r.RegisterHook(g => { hooked = g; return null; });
        var kept = new KeepingIdentity().Apply(r.Relu());
        var loss = F.CrossEntropy(F.Linear(F.MaxPool2d(kept, 2).Reshape(Batch, -1), lw), y);
        loss.Backward();
        var expected = new[] { h.Grad!, hooked!, KeepingIdentity.Kept!, w1.Grad!, w2.Grad! }.Select(t => t.ToArray<float>()).ToArray();
        Scribble();
        var after = new[] { h.Grad!, hooked!, KeepingIdentity.Kept!, w1.Grad!, w2.Grad! }.Select(t => t.ToArray<float>()).ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], after[i]);

        // Captured gradients (Autograd.Grad) are the caller's too.
        var loss2 = F.Conv2d(x, w1, padding: 1).Relu().Mul(2).Sum();
        var captured = global::Fovea.Autograd.Grad(loss2, w1);
        var capturedValues = captured.ToArray<float>();
        Scribble();
        Assert.Equal(capturedValues, captured.ToArray<float>());
    }

    [Fact]
    public void A_leaf_gradient_accumulated_over_two_passes_is_the_sum_and_turning_the_pool_off_empties_it()
    {
        var (x, w1, _, _, _) = Net();
        F.Conv2d(x, w1, padding: 1).Relu().Sum().Backward();
        var once = w1.Grad!.ToArray<float>();
        F.Conv2d(x, w1, padding: 1).Relu().Sum().Backward();
        Assert.True(StoragePool.PooledBytes > 0);
        Scribble();
        Assert.Equal(once.Select(v => 2 * v).ToArray(), w1.Grad!.ToArray<float>());
        StoragePool.Enabled = false;
        try
        {
            Assert.Equal(0, StoragePool.PooledBytes);
            F.Conv2d(x, w1, padding: 1).Relu().Sum().Backward();
            Assert.Equal(0, StoragePool.PooledBytes);
        }
        finally { StoragePool.Enabled = true; }
    }

    [Fact]
    public void A_recycled_tensor_serves_the_next_allocation_of_its_size()
    {
        StoragePool.Clear();
        var dead = Tensor.Full([2, 4096], 5.0);
        float[] array = (float[])dead.Storage.Data;
        Assert.True(StoragePool.Recycle(dead));
        Assert.Equal(2 * 4096 * sizeof(float), StoragePool.PooledBytes);
        Assert.False(StoragePool.Recycle(dead)); // a buffer is handed back once
        var next = Tensor.Zeros([4096, 2]);
        Assert.Same(array, next.Storage.Data);
        Assert.Equal(0, StoragePool.PooledBytes);
        Assert.All(next.ToArray<float>(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Recycling_refuses_a_parameter_part_of_a_buffer_and_small_buffers()
    {
        StoragePool.Clear();
        var leaf = Tensor.Randn([8192], new Generator(1)).RequiresGrad_();
        Assert.False(StoragePool.Recycle(leaf));
        var whole = Tensor.Zeros([2, 8192]);
        Assert.False(StoragePool.Recycle(whole.Narrow(0, 1, 1)));
        Assert.False(StoragePool.Recycle(whole.Narrow(1, 0, 4096)));
        Assert.False(StoragePool.Recycle(Tensor.Zeros([StoragePool.MinLength - 1])));
        StoragePool.Enabled = false;
        try { Assert.False(StoragePool.Recycle(Tensor.Zeros([8192]))); }
        finally { StoragePool.Enabled = true; }
        Assert.Equal(0, StoragePool.PooledBytes);
        using (GradMode.Disable()) Assert.True(StoragePool.Recycle(leaf.Detach().Mul(2)));
    }

    [Fact]
    public void A_recorded_result_that_no_node_saved_is_taken_at_once_and_a_saved_one_when_backward_releases_it()
    {
        StoragePool.Clear();
        var leaf = Tensor.Randn([8192], new Generator(2)).RequiresGrad_();
        var scaled = leaf.Mul(1.5); // Mul saves its inputs, not its result
        var rectified = scaled.Relu(); // ReLU saves its result for the backward
        var loss = rectified.Sum();
        var scaledArray = scaled.Storage.Data;
        var rectifiedArray = rectified.Storage.Data;
        Assert.True(StoragePool.Recycle(scaled));
        Assert.Equal(8192L * sizeof(float), StoragePool.PooledBytes);
        Assert.True(StoragePool.Recycle(rectified));
        Assert.Equal(8192L * sizeof(float), StoragePool.PooledBytes); // the ReLU node still holds it
        Scribble8192();
        loss.Backward();
        var expected = leaf.ToArray<float>().Select(v => v > 0 ? 1.5f : 0f).ToArray();
        Assert.Equal(expected, leaf.Grad!.ToArray<float>());
        // Released by the ReLU node, the buffer went to the pool, where the rest of the pass (the leaf's gradient) or
        // the next allocation finds it.
        var reused = new List<Array> { leaf.Grad.Storage.Data };
        while (StoragePool.PooledBytes > 0) reused.Add(Tensor.Zeros([8192]).Storage.Data);
        Assert.Contains(reused, a => ReferenceEquals(a, rectifiedArray));
        Assert.DoesNotContain(reused, a => ReferenceEquals(a, scaledArray)); // Scribble8192 took it before the backward
    }

    [Fact]
    public void A_saved_result_stays_out_of_the_pool_while_the_graph_is_retained_or_never_run_backward()
    {
        StoragePool.Clear();
        var leaf = Tensor.Randn([8192], new Generator(3)).RequiresGrad_();
        var rectified = leaf.Relu();
        var loss = rectified.Mul(rectified).Sum(); // rectified saved by ReLU and twice by Mul
        Assert.True(StoragePool.Recycle(rectified));
        loss.Backward(retainGraph: true);
        Assert.Equal(0, StoragePool.PooledBytes);
        var first = leaf.Grad!.ToArray<float>();
        leaf.Grad = null;
        Scribble8192();
        loss.Backward();
        Assert.Equal(first, leaf.Grad!.ToArray<float>());
        Assert.True(StoragePool.PooledBytes >= 8192L * sizeof(float));
        StoragePool.Clear();
        var neverRun = leaf.Relu();
        var unusedLoss = neverRun.Sum();
        Assert.True(StoragePool.Recycle(neverRun));
        Assert.Equal(0, StoragePool.PooledBytes);
        GC.KeepAlive(unusedLoss);
    }

    [Fact]
    public void Max_pooling_hands_its_indices_to_the_pool_when_backward_releases_it_and_never_while_the_graph_is_kept()
    {
        StoragePool.Clear();
        var x = Tensor.Randn([2, 4, 64, 64], new Generator(5)).RequiresGrad_();
        var g = Tensor.Randn([2, 4, 32, 32], new Generator(6));
        var y = F.MaxPool2d(x, 2);
        var expected = global::Fovea.Autograd.Grad([y], [x], [g], retainGraph: true)[0]!.ToArray<float>();
        Assert.Equal(0, StoragePool.PooledBytes); // the graph is kept: the indices stay with the node
        Assert.Equal(expected, global::Fovea.Autograd.Grad([y], [x], [g])[0]!.ToArray<float>());
        Assert.True(StoragePool.PooledBytes >= 2L * 4 * 32 * 32 * sizeof(int)); // released: the indices went to the pool
        // A third backward through the released node is refused, not run on indices the pool may have handed out.
        Assert.Throws<InvalidOperationException>(() => global::Fovea.Autograd.Grad([y], [x], [g]));
        // The next forward + backward reuses the buffer and still routes every gradient to its window's maximum.
        var again = F.MaxPool2d(x, 2);
        Assert.Equal(expected, global::Fovea.Autograd.Grad([again], [x], [g])[0]!.ToArray<float>());
        // Indices handed to the caller are the caller's: a backward through them leaves them out of the pool.
        StoragePool.Clear();
        var (values, indices) = F.MaxPool2dWithIndices(x, 2);
        var kept = indices.ToArray<int>();
        global::Fovea.Autograd.Grad([values], [x], [g]);
        Assert.Equal(0, StoragePool.PooledBytes);
        for (int k = 0; k < 4; k++) Tensor.Full([2, 4, 32, 32], -1.0, DType.Int32);
        Assert.Equal(kept, indices.ToArray<int>());
    }

    /// <summary>Takes every pooled buffer of 8,192 floats and fills fresh ones, so a buffer the pool gave out too early would change.</summary>
    private static void Scribble8192()
    {
        for (int k = 0; k < 4; k++) Tensor.Full([8192], -7.0);
    }

    /// <summary>A user's Function that keeps the gradient it is given and passes it on unchanged.</summary>
    private sealed class KeepingIdentity : Function
    {
        public static Tensor? Kept;

        protected override Tensor Forward(Tensor[] inputs) => inputs[0].Clone();

        protected override Tensor?[] Backward(Tensor gradOutput)
        {
            Kept = gradOutput;
            return [gradOutput];
        }
    }
}
