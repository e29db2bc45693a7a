using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Cloud.Unum.USearch;
using Fovea.Vision.Retrieval;

namespace Fovea.Bench;

/// <summary>
/// Exact search of a memory-mapped <see cref="ImageIndex"/> (1,000,000 × 512 float32 unit vectors, 100 queries at
/// once, top 10) against an approximate index, USearch's HNSW (connectivity 16, expansion 128 when adding), searched
/// with the same queries. The vectors are drawn around 1,000 random centres (a centre plus noise of the same size,
/// then normalised), so that neighbours exist as in real embeddings; on pure noise no index can beat a scan.
/// HNSW's search expansion is the smallest of 16, 32, 64, ... that reaches recall@10 ≥ 0.95 against the exact answer.
/// Columns: ms per query for each side (both answer the 100 queries on the case's threads), the scan's effective
/// GB/s (index bytes / time) against the machine's read bandwidth measured here, its GFLOP/s (to hold against the FMA
/// peak the bench prints), one query alone (ms and GB/s: the memory-bound case), the time to build each index on
/// all cores, the memory each holds, HNSW's search expansion and its recall@10.
/// <c>FOVEA_BENCH_RETRIEVAL_ROWS</c> sets the row count (default 1,000,000: 2 GB of vectors in a temporary file);
/// <c>FOVEA_BENCH_RETRIEVAL_CACHE=DIR</c> keeps both indexes (and their build times) in DIR for the next run.
/// </summary>
public sealed class RetrievalCase : BenchCase
{
    private const int Dim = 512, Queries = 100, K = 10, Centres = 1000;
    private const double TargetRecall = 0.95;
    private readonly int _rows = int.TryParse(Environment.GetEnvironmentVariable("FOVEA_BENCH_RETRIEVAL_ROWS"), NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r > 0 ? r : 1_000_000;
    private readonly string? _cache = Environment.GetEnvironmentVariable("FOVEA_BENCH_RETRIEVAL_CACHE") is { Length: > 0 } c ? c : null;
    private string? _file;
    private ImageIndex? _index;
    private HnswIndex? _hnsw;
    private Tensor? _queries;
    private float[]? _queryRows;
    private int _threads = 1, _expansionSearch;
    private double _buildSeconds, _hnswBuildSeconds, _recall, _bandwidth, _singleQueryMs;

    /// <inheritdoc/>
    public override string Name => $"retrieval_{_rows}x{Dim}_q{Queries}_top{K}";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["exact_ms_per_query", "hnsw_ms_per_query", "exact_gbps", "read_bandwidth_gbps", "fraction_of_bandwidth",
        "exact_gflops", "exact_ms_one_query", "one_query_gbps", "index_build_s", "hnsw_build_s", "index_mb", "hnsw_mb", "hnsw_expansion_search", "hnsw_recall_at_10"];

    /// <summary>The one case.</summary>
    public static IEnumerable<BenchCase> All() => [new RetrievalCase()];

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        _threads = threads;
        if (_index is not null)
        {
            Measure(threads);
            return;
        }
        var centres = Tensor.Randn([Centres, Dim], new Generator(1));
        if (_cache is not null) Directory.CreateDirectory(_cache);
        string file = _file = _cache is null ? Path.Combine(Path.GetTempPath(), $"fovea-bench-{Environment.ProcessId}.fvi") : Path.Combine(_cache, $"clustered_{_rows}x{Dim}.fvi");
        _buildSeconds = CachedBuild(file, () =>
        {
            using var building = ImageIndex.Create(Dim, new ImageIndexInfo("bench:clustered", "none"));
            const int chunk = 65536;
            for (int start = 0; start < _rows; start += chunk)
            {
                int n = Math.Min(chunk, _rows - start);
                building.Add(Clustered(centres, n, (ulong)start + 2), Enumerable.Range(start, n).Select(i => $"v/{i}").ToList());
            }
            building.Save(file);
        });
        _index = ImageIndex.Open(file);
        _queries = Clustered(centres, Queries, 1UL << 40);
        _queryRows = ImageIndex.Normalize(_queries);

        _hnsw = new HnswIndex(Dim, connectivity: 16, expansionAdd: 128);
        string? hnswFile = _cache is null ? null : Path.Combine(_cache, $"clustered_{_rows}x{Dim}_hnsw16x128.usearch");
        if (hnswFile is not null && File.Exists(hnswFile) && File.Exists(hnswFile + ".build_s")) _hnsw.Load(hnswFile);
        _hnswBuildSeconds = CachedBuild(hnswFile, () => _hnsw.AddAll(_index, Environment.ProcessorCount), () => _hnsw.Save(hnswFile!));

        // The smallest search expansion (16, 32, 64, ...) at which HNSW finds 95 % of the exact top 10.
        var exact = _index.Search(_queries, K);
        for (_expansionSearch = 16; ; _expansionSearch *= 2)
        {
            _hnsw.ExpansionSearch = _expansionSearch;
            int found = 0;
            var keys = new ulong[K];
            for (int q = 0; q < Queries; q++)
            {
                int m = _hnsw.Search(_queryRows.AsSpan(q * Dim, Dim), keys);
                var truth = exact[q].Select(h => (ulong)h.Row).ToHashSet();
                found += keys.AsSpan(0, m).ToArray().Count(truth.Contains);
            }
            _recall = found / (double)(Queries * K);
            if (_recall >= TargetRecall || _expansionSearch >= 4096) break;
        }
        Measure(threads);
    }

    // What the scan is measured against at this thread count: the read bandwidth, and one query alone (best of three),
    // where the scan reads the same bytes as for 100 but computes 1/100 of the products — the memory-bound case.
    private void Measure(int threads)
    {
        _bandwidth = ReadBandwidth(threads);
        var one = _queries!.Narrow(0, 0, 1);
        _singleQueryMs = double.MaxValue;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var clock = Stopwatch.StartNew();
            _index!.Search(one, K);
            _singleQueryMs = Math.Min(_singleQueryMs, clock.Elapsed.TotalMilliseconds);
        }
    }

    // Seconds <paramref name="build"/> took; with a cache, <paramref name="save"/> (if any) then stores the result and
    // the seconds are recorded beside it, and a later run that finds both gets the recorded seconds instead.
    private static double CachedBuild(string? file, Action build, Action? save = null)
    {
        string? record = file is null ? null : file + ".build_s";
        if (record is not null && File.Exists(file) && File.Exists(record))
            return double.Parse(File.ReadAllText(record), CultureInfo.InvariantCulture);
        var clock = Stopwatch.StartNew();
        build();
        double seconds = clock.Elapsed.TotalSeconds;
        if (record is null) return seconds;
        save?.Invoke();
        File.WriteAllText(record, seconds.ToString("R", CultureInfo.InvariantCulture));
        return seconds;
    }

    // n vectors, each a random centre plus Gaussian noise of the same scale.
    private static Tensor Clustered(Tensor centres, int n, ulong seed)
    {
        var pick = Tensor.RandInt([n], 0, Centres, new Generator(seed));
        return centres.IndexSelect(0, pick).Add(Tensor.Randn([n, Dim], new Generator(seed + 1)));
    }

    /// <summary>GB/s of summing a 1 GiB array on <paramref name="threads"/> threads (best of three): the rate a scan can read memory.</summary>
    private static double ReadBandwidth(int threads)
    {
        var data = new float[1 << 28];
        data.AsSpan().Fill(1);
        double best = 0;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            var clock = Stopwatch.StartNew();
            int chunk = data.Length / threads;
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t => TensorPrimitives.Sum(data.AsSpan(t * chunk, chunk)));
            best = Math.Max(best, 4.0 * data.Length / clock.Elapsed.TotalSeconds / 1e9);
        }
        return best;
    }

    /// <inheritdoc/>
    public override void RunFovea() => _index!.Search(_queries!, K);

    /// <inheritdoc/>
    public override void RunAnchor()
    {
        // One query per call is HNSW's unit of work; the case's threads share the 100 queries, as Fovea's do its GEMM.
        Parallel.For(0, Queries, new ParallelOptions { MaxDegreeOfParallelism = _threads }, () => new ulong[K], (q, _, keys) =>
        {
            _hnsw!.Search(_queryRows!.AsSpan(q * Dim, Dim), keys);
            return keys;
        }, _ => { });
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double bytes = (double)_rows * Dim * 4, gbps = bytes / (foveaMs / 1e3) / 1e9;
        double gflops = 2.0 * Queries * _rows * Dim / (foveaMs / 1e3) / 1e9; // one multiply-add per element and query
        double indexMb = new FileInfo(_file!).Length / 1e6;
        return [Harness.F(foveaMs / Queries), Harness.F(anchorMs / Queries, "0.0000"), Harness.F(gbps, "0.00"), Harness.F(_bandwidth, "0.00"),
            Harness.F(gbps / _bandwidth, "0.00"), Harness.F(gflops, "0.0"), Harness.F(_singleQueryMs, "0.0"), Harness.F(bytes / (_singleQueryMs / 1e3) / 1e9, "0.00"),
            Harness.F(_buildSeconds, "0.0"), Harness.F(_hnswBuildSeconds, "0.0"),
            Harness.F(indexMb, "0"), Harness.F(_hnsw!.MemoryBytes / 1e6, "0"), _expansionSearch.ToString(CultureInfo.InvariantCulture), Harness.F(_recall, "0.000")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _index?.Dispose();
        _hnsw?.Dispose();
        if (_cache is null && _file is not null && File.Exists(_file)) File.Delete(_file);
        base.Dispose();
    }
}

/// <summary>
/// USearch's HNSW through the C API of the Cloud.Unum.USearch package's native library. The package's managed
/// wrapper (2.26.6) adds vectors one at a time on the calling thread — its batch <c>Add</c> is a loop over
/// <c>usearch_add</c> — and exposes neither the index handle nor <c>usearch_reserve</c>, so a million-row build there
/// runs on one core. The C API is thread-safe for adds once the capacity is reserved (the index keeps one context per
/// hardware thread), so <see cref="AddAll"/> reserves once and adds from every core, as USearch's Python and C++
/// batch adds do.
/// </summary>
internal sealed unsafe class HnswIndex : IDisposable
{
    [StructLayout(LayoutKind.Sequential)]
    private struct InitOptions
    {
        public MetricKind Metric;
        public IntPtr CustomMetric;
        public ScalarKind Quantization;
        public nuint Dimensions, Connectivity, ExpansionAdd, ExpansionSearch;
        public byte Multi;
    }

    private static readonly IntPtr Library = NativeLibrary.Load("libusearch_c", typeof(USearchIndex).Assembly, null);
    private static readonly delegate* unmanaged<InitOptions*, IntPtr*, IntPtr> Init = (delegate* unmanaged<InitOptions*, IntPtr*, IntPtr>)Export("usearch_init");
    private static readonly delegate* unmanaged<IntPtr, IntPtr*, void> Free = (delegate* unmanaged<IntPtr, IntPtr*, void>)Export("usearch_free");
    private static readonly delegate* unmanaged<IntPtr, IntPtr*, nuint> Size = (delegate* unmanaged<IntPtr, IntPtr*, nuint>)Export("usearch_size");
    private static readonly delegate* unmanaged<IntPtr, nuint, IntPtr*, void> Reserve = (delegate* unmanaged<IntPtr, nuint, IntPtr*, void>)Export("usearch_reserve");
    private static readonly delegate* unmanaged<IntPtr, ulong, float*, ScalarKind, IntPtr*, void> Add = (delegate* unmanaged<IntPtr, ulong, float*, ScalarKind, IntPtr*, void>)Export("usearch_add");
    private static readonly delegate* unmanaged<IntPtr, float*, ScalarKind, nuint, ulong*, float*, IntPtr*, nuint> SearchNative =
        (delegate* unmanaged<IntPtr, float*, ScalarKind, nuint, ulong*, float*, IntPtr*, nuint>)Export("usearch_search");
    private static readonly delegate* unmanaged<IntPtr, nuint, IntPtr*, void> ChangeExpansionSearch = (delegate* unmanaged<IntPtr, nuint, IntPtr*, void>)Export("usearch_change_expansion_search");
    private static readonly delegate* unmanaged<IntPtr, IntPtr*, nuint> MemoryUsage = (delegate* unmanaged<IntPtr, IntPtr*, nuint>)Export("usearch_memory_usage");
    private static readonly delegate* unmanaged<IntPtr, byte*, IntPtr*, void> SaveNative = (delegate* unmanaged<IntPtr, byte*, IntPtr*, void>)Export("usearch_save");
    private static readonly delegate* unmanaged<IntPtr, byte*, IntPtr*, void> LoadNative = (delegate* unmanaged<IntPtr, byte*, IntPtr*, void>)Export("usearch_load");

    private readonly int _dim;
    private IntPtr _handle;

    /// <summary>An empty cosine index of float32 vectors.</summary>
    public HnswIndex(int dim, int connectivity, int expansionAdd)
    {
        _dim = dim;
        var options = new InitOptions
        {
            Metric = MetricKind.Cos,
            Quantization = ScalarKind.Float32,
            Dimensions = (nuint)dim,
            Connectivity = (nuint)connectivity,
            ExpansionAdd = (nuint)expansionAdd,
            ExpansionSearch = (nuint)expansionAdd,
        };
        IntPtr error = IntPtr.Zero;
        _handle = Init(&options, &error);
        Check(error, "usearch_init");
    }

    /// <summary>Bytes the index holds (vectors and graph).</summary>
    public long MemoryBytes
    {
        get
        {
            IntPtr error = IntPtr.Zero;
            long bytes = (long)MemoryUsage(_handle, &error);
            Check(error, "usearch_memory_usage");
            return bytes;
        }
    }

    /// <summary>Candidates kept while searching (USearch's ef).</summary>
    public int ExpansionSearch
    {
        set
        {
            IntPtr error = IntPtr.Zero;
            ChangeExpansionSearch(_handle, (nuint)value, &error);
            Check(error, "usearch_change_expansion_search");
        }
    }

    /// <summary>Adds every row of <paramref name="index"/> (key = row) from <paramref name="threads"/> threads.</summary>
    public void AddAll(ImageIndex index, int threads)
    {
        IntPtr error = IntPtr.Zero;
        Reserve(_handle, (nuint)index.Count, &error);
        Check(error, "usearch_reserve");
        var block = new float[ImageIndex.BlockRows * _dim];
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads };
        for (long start = 0; start < index.Count; start += ImageIndex.BlockRows)
        {
            int n = (int)Math.Min(ImageIndex.BlockRows, index.Count - start);
            index.ReadRows(start, n, block);
            Parallel.For(0, n, options, i =>
            {
                IntPtr e = IntPtr.Zero;
                fixed (float* v = &block[i * _dim]) Add(_handle, (ulong)(start + i), v, ScalarKind.Float32, &e);
                Check(e, "usearch_add");
            });
        }
    }

    /// <summary>The keys of the nearest vectors to <paramref name="query"/>, best first; returns how many were found.</summary>
    public int Search(ReadOnlySpan<float> query, Span<ulong> keys)
    {
        Span<float> distances = stackalloc float[keys.Length];
        IntPtr error = IntPtr.Zero;
        nuint found;
        fixed (float* q = query)
        fixed (ulong* k = keys)
        fixed (float* d = distances)
            found = SearchNative(_handle, q, ScalarKind.Float32, (nuint)keys.Length, k, d, &error);
        Check(error, "usearch_search");
        return (int)found;
    }

    /// <summary>Writes the index to <paramref name="path"/>.</summary>
    public void Save(string path) => WithPath(path, SaveNative, "usearch_save");

    /// <summary>
    /// Replaces the index with the one saved at <paramref name="path"/>, then reserves its size again: that gives the
    /// loaded index one search context per hardware thread, so the case's threads search it concurrently.
    /// </summary>
    public void Load(string path)
    {
        WithPath(path, LoadNative, "usearch_load");
        IntPtr error = IntPtr.Zero;
        nuint size = Size(_handle, &error);
        Check(error, "usearch_size");
        Reserve(_handle, size, &error);
        Check(error, "usearch_reserve");
    }

    private void WithPath(string path, delegate* unmanaged<IntPtr, byte*, IntPtr*, void> call, string what)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        IntPtr error = IntPtr.Zero;
        fixed (byte* p = bytes) call(_handle, p, &error);
        Check(error, what);
    }

    private static IntPtr Export(string name) => NativeLibrary.GetExport(Library, name);

    private static void Check(IntPtr error, string what)
    {
        if (error != IntPtr.Zero) throw new InvalidOperationException($"{what}: {Marshal.PtrToStringUTF8(error)}");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_handle == IntPtr.Zero) return;
        IntPtr error = IntPtr.Zero;
        Free(_handle, &error);
        _handle = IntPtr.Zero;
    }
}
