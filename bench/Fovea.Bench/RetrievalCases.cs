using System.Diagnostics;
using System.Globalization;
using System.Numerics.Tensors;
using Cloud.Unum.USearch;
using Fovea.Vision.Retrieval;

namespace Fovea.Bench;

/// <summary>
/// Exact search of a memory-mapped <see cref="ImageIndex"/> (1,000,000 × 512 float32 unit vectors, 100 queries at
/// once, top 10) against an approximate index, USearch's HNSW (connectivity 16, expansion 128 when adding), searched
/// with the same queries. The vectors are drawn around 1,000 random centres (a centre plus noise of the same size,
/// then normalised), so that neighbours exist as in real embeddings; on pure noise no index can beat a scan.
/// Columns: ms per query for each side, the scan's effective GB/s (index bytes / time) against the machine's read
/// bandwidth measured here, the time to build each index, and HNSW's recall@10 against the exact answer.
/// <c>FOVEA_BENCH_RETRIEVAL_ROWS</c> sets the row count (default 1,000,000: 2 GB of vectors in a temporary file).
/// </summary>
public sealed class RetrievalCase : BenchCase
{
    private const int Dim = 512, Queries = 100, K = 10, Centres = 1000;
    private readonly int _rows = int.TryParse(Environment.GetEnvironmentVariable("FOVEA_BENCH_RETRIEVAL_ROWS"), NumberStyles.None, CultureInfo.InvariantCulture, out int r) && r > 0 ? r : 1_000_000;
    private readonly string _file = Path.Combine(Path.GetTempPath(), $"fovea-bench-{Environment.ProcessId}.fvi");
    private ImageIndex? _index;
    private USearchIndex? _hnsw;
    private Tensor? _queries;
    private float[][]? _queryRows;
    private double _buildSeconds, _hnswBuildSeconds, _recall, _bandwidth;

    /// <inheritdoc/>
    public override string Name => $"retrieval_{_rows}x{Dim}_q{Queries}_top{K}";

    /// <inheritdoc/>
    public override string[] ExtraColumns => ["exact_ms_per_query", "hnsw_ms_per_query", "exact_gbps", "read_bandwidth_gbps", "fraction_of_bandwidth", "index_build_s", "hnsw_build_s", "hnsw_recall_at_10"];

    /// <summary>The one case.</summary>
    public static IEnumerable<BenchCase> All() => [new RetrievalCase()];

    /// <inheritdoc/>
    public override void Setup(int threads)
    {
        if (_index is not null) return;
        var centres = Tensor.Randn([Centres, Dim], new Generator(1));
        var clock = Stopwatch.StartNew();
        using (var building = ImageIndex.Create(Dim, new ImageIndexInfo("bench:clustered", "none")))
        {
            const int chunk = 65536;
            for (int start = 0; start < _rows; start += chunk)
            {
                int n = Math.Min(chunk, _rows - start);
                building.Add(Clustered(centres, n, (ulong)start + 2), Enumerable.Range(start, n).Select(i => $"v/{i}").ToList());
            }
            building.Save(_file);
        }
        _buildSeconds = clock.Elapsed.TotalSeconds;
        _index = ImageIndex.Open(_file);
        _queries = Clustered(centres, Queries, 1UL << 40);
        _queryRows = Enumerable.Range(0, Queries).Select(i => ImageIndex.Normalize(_queries.Select(0, i).Unsqueeze(0))).ToArray();

        clock.Restart();
        _hnsw = new USearchIndex(MetricKind.Cos, ScalarKind.Float32, Dim, connectivity: 16, expansionAdd: 128, expansionSearch: 128);
        var block = new float[ImageIndex.BlockRows * Dim];
        for (long start = 0; start < _rows; start += ImageIndex.BlockRows)
        {
            int n = (int)Math.Min(ImageIndex.BlockRows, _rows - start);
            _index.ReadRows(start, n, block);
            var vectors = Enumerable.Range(0, n).Select(i => block.AsSpan(i * Dim, Dim).ToArray()).ToArray();
            _hnsw.Add(Enumerable.Range(0, n).Select(i => (ulong)(start + i)).ToArray(), vectors);
        }
        _hnswBuildSeconds = clock.Elapsed.TotalSeconds;

        var exact = _index.Search(_queries, K);
        int found = 0;
        for (int q = 0; q < Queries; q++)
        {
            _hnsw.Search(_queryRows[q], K, out ulong[] keys, out _);
            var truth = exact[q].Select(h => (ulong)h.Row).ToHashSet();
            found += keys.Count(truth.Contains);
        }
        _recall = found / (double)(Queries * K);
        _bandwidth = ReadBandwidth(threads);
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
        foreach (var q in _queryRows!) _hnsw!.Search(q, K, out _, out _);
    }

    /// <inheritdoc/>
    public override string[] Extra(int threads, double foveaMs, double anchorMs)
    {
        double gbps = (double)_rows * Dim * 4 / (foveaMs / 1e3) / 1e9;
        return [Harness.F(foveaMs / Queries), Harness.F(anchorMs / Queries, "0.0000"), Harness.F(gbps, "0.00"), Harness.F(_bandwidth, "0.00"),
            Harness.F(gbps / _bandwidth, "0.00"), Harness.F(_buildSeconds, "0.0"), Harness.F(_hnswBuildSeconds, "0.0"), Harness.F(_recall, "0.000")];
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _index?.Dispose();
        _hnsw?.Dispose();
        if (File.Exists(_file)) File.Delete(_file);
        base.Dispose();
    }
}
