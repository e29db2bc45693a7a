namespace Fovea.Distributed;

/// <summary>
/// A process group whose ranks are threads of this process, sharing memory: for unit tests and for trying
/// data-parallel code without MPI. <see cref="Create"/> makes the ranks; <see cref="Run"/> runs a body on each in its
/// own thread. All-reduce sums the ranks' buffers in rank order, so every rank gets bit-identical results, like MPI's
/// reduction does. A rank that waits longer than the timeout for the others (one of them failed, or they issued
/// different collectives) gets a <see cref="TimeoutException"/> instead of hanging.
/// </summary>
public sealed unsafe class InProcessProcessGroup : ProcessGroup
{
    private readonly World _world;

    /// <inheritdoc/>
    public override int Rank { get; }

    /// <inheritdoc/>
    public override int Size => _world.Size;

    private InProcessProcessGroup(World world, int rank) : base($"fovea-comm-{rank}")
    {
        _world = world;
        Rank = rank;
    }

    /// <summary>The <paramref name="size"/> ranks of a new group, index = rank.</summary>
    /// <param name="size">Number of ranks (at least 1).</param>
    /// <param name="timeout">How long a rank waits for the others in a collective (default 60 s).</param>
    public static InProcessProcessGroup[] Create(int size, TimeSpan? timeout = null)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "a process group needs at least one rank");
        var world = new World(size, timeout ?? TimeSpan.FromSeconds(60));
        var ranks = new InProcessProcessGroup[size];
        for (int r = 0; r < size; r++) ranks[r] = new InProcessProcessGroup(world, r);
        return ranks;
    }

    /// <summary>
    /// Runs <paramref name="body"/> once per rank, each on its own thread with its own group, and returns their results
    /// by rank. If a rank throws, the others' collectives are cancelled and the first failure is rethrown.
    /// </summary>
    public static T[] Run<T>(int size, Func<IProcessGroup, T> body, TimeSpan? timeout = null)
    {
        var groups = Create(size, timeout);
        var results = new T[size];
        var failures = new Exception?[size];
        var threads = new Thread[size];
        for (int r = 0; r < size; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                try { results[rank] = body(groups[rank]); }
                catch (Exception e)
                {
                    failures[rank] = e;
                    groups[rank]._world.Cancel();
                }
                finally { groups[rank].Dispose(); }
            })
            { Name = $"fovea-rank-{rank}", IsBackground = true };
            threads[r].Start();
        }
        foreach (var t in threads) t.Join();
        // The first failure that is not merely another rank's cancellation is the cause.
        var cause = Array.Find(failures, e => e is not null && e is not OperationCanceledException) ?? Array.Find(failures, e => e is not null);
        if (cause is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(cause).Throw();
        return results;
    }

    private protected override void AllReduceSum(void* data, int count, ElementKind kind)
    {
        _world.Post(Rank, (nint)data, count, kind, "all-reduce");
        // Every rank reads all buffers (in rank order, so every rank gets the same bits) into its own scratch, waits
        // until all have read, and only then overwrites its buffer, which others may still have been reading.
        if (kind == ElementKind.Float32)
        {
            var sum = new float[count];
            for (int r = 0; r < Size; r++)
            {
                var part = new ReadOnlySpan<float>((void*)_world.Buffers[r], count);
                for (int i = 0; i < count; i++) sum[i] += part[i];
            }
            _world.Arrive(Rank, "all-reduce");
            sum.CopyTo(new Span<float>(data, count));
        }
        else
        {
            var sum = new double[count];
            for (int r = 0; r < Size; r++)
            {
                var part = new ReadOnlySpan<double>((void*)_world.Buffers[r], count);
                for (int i = 0; i < count; i++) sum[i] += part[i];
            }
            _world.Arrive(Rank, "all-reduce");
            sum.CopyTo(new Span<double>(data, count));
        }
    }

    private protected override void BroadcastFrom(void* data, int count, ElementKind kind, int root)
    {
        _world.Post(Rank, (nint)data, count, kind, "broadcast");
        if (Rank != root)
        {
            int bytes = count * (kind == ElementKind.Float32 ? sizeof(float) : sizeof(double));
            new ReadOnlySpan<byte>((void*)_world.Buffers[root], bytes).CopyTo(new Span<byte>(data, bytes));
        }
        _world.Arrive(Rank, "broadcast"); // the root's buffer stays untouched until every rank has copied it
    }

    private protected override void BarrierAll() => _world.Post(Rank, 0, 0, ElementKind.Float32, "barrier");

    /// <summary>The state the ranks share: a barrier, and where each rank's buffer of the current collective is.</summary>
    private sealed class World(int size, TimeSpan timeout)
    {
        private readonly Barrier _barrier = new(size);
        private readonly CancellationTokenSource _cancel = new();
        private readonly int[] _counts = new int[size];
        private readonly ElementKind[] _kinds = new ElementKind[size];
        private readonly string[] _ops = new string[size];

        public int Size { get; } = size;

        public nint[] Buffers { get; } = new nint[size];

        public void Cancel() => _cancel.Cancel();

        /// <summary>Publishes this rank's buffer, waits for all ranks to do the same, and checks they agree.</summary>
        public void Post(int rank, nint buffer, int count, ElementKind kind, string op)
        {
            Buffers[rank] = buffer;
            _counts[rank] = count;
            _kinds[rank] = kind;
            _ops[rank] = op;
            Arrive(rank, op);
            // Every collective posts before it arrives, so after the barrier each slot describes its rank's current call.
            for (int r = 0; r < Size; r++)
                if (_ops[r] != op)
                {
                    Cancel();
                    throw new InvalidOperationException($"{op}: rank {rank} called {op} while rank {r} called {_ops[r]}; every rank must issue the same collectives in the same order");
                }
            for (int r = 0; r < Size; r++)
                if (_counts[r] != count || _kinds[r] != kind)
                {
                    Cancel(); // the ranks are out of step: none of their later collectives can match
                    throw new InvalidOperationException($"{op}: rank {rank} passed {count} {Name(kind)} values but rank {r} passed {_counts[r]} {Name(_kinds[r])}; every rank must pass buffers of the same length and type");
                }
        }

        public void Arrive(int rank, string op)
        {
            if (!_barrier.SignalAndWait(timeout, _cancel.Token))
            {
                Cancel();
                throw new TimeoutException($"{op}: rank {rank} waited {timeout.TotalSeconds:0.#} s for the other ranks of the in-process group; one of them failed or issued a different collective");
            }
        }

        private static string Name(ElementKind kind) => kind == ElementKind.Float32 ? "float32" : "float64";
    }
}
