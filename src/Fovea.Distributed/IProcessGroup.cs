namespace Fovea.Distributed;

/// <summary>How <see cref="IProcessGroup.AllReduce(Span{float}, ReduceOp)"/> combines the ranks' buffers.</summary>
public enum ReduceOp
{
    /// <summary>Element-wise sum over the ranks.</summary>
    Sum,

    /// <summary>Element-wise sum over the ranks divided by <see cref="IProcessGroup.Size"/> (gradient averaging).</summary>
    Average,
}

/// <summary>
/// A fixed set of <see cref="Size"/> cooperating processes (or threads), each knowing its <see cref="Rank"/>, and the
/// collective operations among them. Every rank must call the same collectives in the same order with buffers of the
/// same length; a collective returns on a rank once that rank's part is done. Operations run one at a time, in the
/// order they were issued, on the group's communication thread, so synchronous and asynchronous calls may be mixed
/// from any thread. Implementations: <see cref="MpiProcessGroup"/> (processes started by <c>mpirun</c>) and
/// <see cref="InProcessProcessGroup"/> (threads of one process, for tests and for trying code without MPI).
/// </summary>
public interface IProcessGroup : IDisposable
{
    /// <summary>This participant's index, 0 ≤ Rank &lt; <see cref="Size"/>. Rank 0 is the one that prints and saves.</summary>
    int Rank { get; }

    /// <summary>Number of participants.</summary>
    int Size { get; }

    /// <summary>Replaces <paramref name="data"/> on every rank by the element-wise sum (or mean) of all ranks' data.</summary>
    void AllReduce(Span<float> data, ReduceOp op = ReduceOp.Sum);

    /// <inheritdoc cref="AllReduce(Span{float}, ReduceOp)"/>
    void AllReduce(Span<double> data, ReduceOp op = ReduceOp.Sum);

    /// <summary>
    /// Starts an all-reduce of <paramref name="data"/> and returns at once; the buffer must not be touched until
    /// <see cref="CollectiveHandle.Wait"/> returns.
    /// </summary>
    CollectiveHandle AllReduceAsync(Memory<float> data, ReduceOp op = ReduceOp.Sum);

    /// <inheritdoc cref="AllReduceAsync(Memory{float}, ReduceOp)"/>
    CollectiveHandle AllReduceAsync(Memory<double> data, ReduceOp op = ReduceOp.Sum);

    /// <summary>Copies <paramref name="root"/>'s <paramref name="data"/> into every other rank's.</summary>
    void Broadcast(Span<float> data, int root = 0);

    /// <inheritdoc cref="Broadcast(Span{float}, int)"/>
    void Broadcast(Span<double> data, int root = 0);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();
}
