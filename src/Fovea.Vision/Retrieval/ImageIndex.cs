using System.IO.MemoryMappedFiles;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Fovea.IO;

namespace Fovea.Vision.Retrieval;

/// <summary>One result of <see cref="ImageIndex.Search"/>.</summary>
/// <param name="Row">The vector's row in the index (the order images were added).</param>
/// <param name="Score">Cosine similarity with the query (the vectors are unit length, so the dot product).</param>
/// <param name="Path">The image's path relative to the index's root.</param>
public sealed record SearchHit(long Row, float Score, string Path);

/// <summary>
/// A file of L2-normalised image embeddings with their relative paths and the identity of the model and layer that
/// computed them, searched exactly by cosine similarity ("recognition by retrieval": find the stored pictures most
/// like a new one in a network's feature space).
/// <para>
/// <see cref="Create"/> starts an empty index, <see cref="Add"/> appends vectors, <see cref="Save"/> writes one
/// versioned file atomically, <see cref="Open"/> memory-maps a saved file — the vectors are never loaded onto the
/// managed heap, so an index larger than it still searches — and <see cref="Search"/> ranks every vector for many
/// queries at once: the vectors stream through in blocks of <see cref="BlockRows"/> rows, each block scored against
/// all queries by one matrix product (<c>Q · Bᵀ</c> on the backend's GEMM) and the scores fed to a top-k heap per query;
/// up to <see cref="DirectScanMaxQueries"/> queries, the threads instead split the rows and score them with dot
/// products as they leave the file (the read, not the arithmetic, bounds that case).
/// Memory is the queries, one block and one score tile, whatever the index size.
/// </para>
/// </summary>
public sealed class ImageIndex : IDisposable
{
    /// <summary>Rows per block of a search: 4096 × 512 float32 is 8 MiB, large enough for the GEMM to run at speed.</summary>
    public const int BlockRows = 4096;

    /// <summary>Queries scored together against a block: bounds the score tile to 1024 × 4096 floats (16 MiB).</summary>
    public const int QueryTile = 1024;

    /// <summary>
    /// Up to this many queries, a search reads each row once and scores it with one dot product per query, the threads
    /// splitting the rows: with few queries the scan is bound by reading the vectors (2·q flops per 4 bytes), and a
    /// GEMM would add the copy into its block and its packing to that read. More queries share one read through the
    /// GEMM of <see cref="BlockRows"/>-row blocks, where the products dominate.
    /// </summary>
    public const int DirectScanMaxQueries = 8;

    // Rows one thread copies out of the file and scores at a time: 256 × 512 float32 is 512 KiB, so they are still in
    // its L2 cache when the dot products read them.
    private const int ScanChunkRows = 256;

    private readonly ImageIndexInfo _info;
    private readonly List<string> _paths;
    private readonly List<float> _added = []; // rows added since the file was opened, already rounded to the storage type
    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly long _mappedCount;

    private ImageIndex(ImageIndexInfo info, int dimension, VectorStorage storage, List<string> paths,
        MemoryMappedFile? map, MemoryMappedViewAccessor? view, long mappedCount, string? file)
    {
        _info = info;
        Dimension = dimension;
        Storage = storage;
        _paths = paths;
        _map = map;
        _view = view;
        _mappedCount = mappedCount;
        FilePath = file;
    }

    /// <summary>Length of every vector.</summary>
    public int Dimension { get; }

    /// <summary>How the vectors are stored.</summary>
    public VectorStorage Storage { get; }

    /// <summary>Model, layer and root of the vectors.</summary>
    public ImageIndexInfo Info => _info;

    /// <summary>Number of vectors.</summary>
    public long Count => _paths.Count;

    /// <summary>The image path of each row, relative to <see cref="ImageIndexInfo.Root"/>.</summary>
    public IReadOnlyList<string> Paths => _paths;

    /// <summary>The file this index was opened from, or null for one built in memory.</summary>
    public string? FilePath { get; }

    /// <summary>An empty index for vectors of <paramref name="dimension"/> computed as <paramref name="info"/> says.</summary>
    public static ImageIndex Create(int dimension, ImageIndexInfo info, VectorStorage storage = VectorStorage.Float32)
    {
        ArgumentNullException.ThrowIfNull(info);
        if (dimension < 1 || dimension > ImageIndexFile.MaxDimension)
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, $"an index holds vectors of 1 to {ImageIndexFile.MaxDimension} elements");
        if (storage is not (VectorStorage.Float32 or VectorStorage.Float16)) throw new ArgumentOutOfRangeException(nameof(storage));
        if (info.Model.Length == 0 || info.Layer.Length == 0) throw new ArgumentException("an index needs the model's identity and the layer's name", nameof(info));
        return new ImageIndex(info, dimension, storage, [], null, null, 0, null);
    }

    /// <summary>
    /// Appends <paramref name="vectors"/> [n, D] with their relative <paramref name="paths"/>. Each vector is divided by
    /// its L2 norm (so scores are cosines); an all-zero vector stays zero and scores 0 against everything.
    /// </summary>
    public void Add(Tensor vectors, IReadOnlyList<string> paths)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        ArgumentNullException.ThrowIfNull(paths);
        if (vectors.Rank != 2 || vectors.Size(1) != Dimension)
            throw new ArgumentException($"ImageIndex.Add: expected vectors [n, {Dimension}], got {ShapeChecks.Format(vectors.Shape)}", nameof(vectors));
        if (vectors.Size(0) != paths.Count)
            throw new ArgumentException($"ImageIndex.Add: {vectors.Size(0)} vectors but {paths.Count} paths", nameof(paths));
        if (Count + paths.Count > int.MaxValue) throw new InvalidOperationException($"an index holds at most {int.MaxValue} vectors");
        foreach (var p in paths)
            if (ImageIndexFile.CheckRelativePath(p) is { } why) throw new ArgumentException($"ImageIndex.Add: path '{p}' {why}", nameof(paths));
        var rows = Normalize(vectors);
        if (Storage == VectorStorage.Float16)
            for (int i = 0; i < rows.Length; i++) rows[i] = (float)(Half)rows[i];
        _added.AddRange(rows);
        _paths.AddRange(paths);
    }

    /// <summary>The rows of <paramref name="vectors"/> divided by their L2 norms, as float32, row-major.</summary>
    public static float[] Normalize(Tensor vectors)
    {
        ArgumentNullException.ThrowIfNull(vectors);
        float[] rows;
        using (GradMode.Disable()) rows = vectors.Detach().To(DType.Float32).Contiguous().ToArray<float>();
        int d = vectors.Size(-1);
        for (int r = 0; r * d < rows.Length; r++)
        {
            var row = rows.AsSpan(r * d, d);
            // The norm in float64: a 65536-element float32 sum of squares would lose digits.
            double sum = 0;
            foreach (float v in row) sum += (double)v * v;
            if (sum > 0) TensorPrimitives.Multiply(row, (float)(1 / Math.Sqrt(sum)), row);
        }
        return rows;
    }

    /// <summary>
    /// Writes the index to <paramref name="path"/> atomically (a temporary file renamed when complete), streaming the
    /// mapped vectors block by block. Saving over the file this index was opened from is allowed.
    /// </summary>
    public void Save(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var meta = new ImageIndexMetadata
        {
            Model = _info.Model,
            Layer = _info.Layer,
            ModelFile = _info.ModelFile,
            ModelSha256 = _info.ModelSha256,
            Root = _info.Root,
            Paths = _paths,
        };
        byte[] json = ImageIndexFile.SerializeMetadata(meta);
        AtomicFile.Write(path, s =>
        {
            ImageIndexFile.WriteHeader(s, Storage, Dimension, Count, json.Length);
            int rowsPerBlock = BlockRows;
            var block = new float[rowsPerBlock * Dimension];
            var bytes = new byte[block.Length * ImageIndexFile.ElementSize(Storage)];
            for (long start = 0; start < Count; start += rowsPerBlock)
            {
                int n = (int)Math.Min(rowsPerBlock, Count - start);
                ReadRows(start, n, block);
                var rows = block.AsSpan(0, n * Dimension);
                int length = rows.Length * ImageIndexFile.ElementSize(Storage);
                if (Storage == VectorStorage.Float16)
                    TensorPrimitives.ConvertToHalf(rows, MemoryMarshal.Cast<byte, Half>(bytes.AsSpan(0, length)));
                else
                    MemoryMarshal.AsBytes(rows).CopyTo(bytes);
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("image index files are little-endian");
                s.Write(bytes, 0, length);
            }
            s.Write(json);
        });
    }

    /// <summary>
    /// Opens a saved index: the header and metadata are read and checked (declared sizes against the file's length,
    /// before anything is mapped), then the vectors are memory-mapped read-only. A malformed file is an
    /// <see cref="InvalidDataException"/> naming it and the field at fault.
    /// </summary>
    public static ImageIndex Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        VectorStorage storage;
        int dim;
        long count, metaOffset, metaLength;
        ImageIndexMetadata meta;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            (storage, dim, count, metaOffset, metaLength) = ImageIndexFile.ReadHeader(fs, path);
            var json = new byte[metaLength];
            fs.Position = metaOffset;
            fs.ReadExactly(json);
            meta = ImageIndexFile.ReadMetadata(json, count, path);
        }
        var info = new ImageIndexInfo(meta.Model, meta.Layer, meta.ModelFile, meta.ModelSha256, meta.Root);
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        if (count > 0)
        {
            // Mapped with FileShare.Read: the file may be replaced by a rename (Save over it) while this view lives.
            var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
            map = MemoryMappedFile.CreateFromFile(fs, null, 0, MemoryMappedFileAccess.Read, HandleInheritability.None, leaveOpen: false);
            view = map.CreateViewAccessor(ImageIndexFile.HeaderBytes, count * dim * ImageIndexFile.ElementSize(storage), MemoryMappedFileAccess.Read);
        }
        return new ImageIndex(info, dim, storage, meta.Paths, map, view, count, Path.GetFullPath(path));
    }

    /// <summary>Copies rows [start, start + n) as float32 into <paramref name="destination"/>[0 .. n·D).</summary>
    public void ReadRows(long start, int n, float[] destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (start < 0 || n < 0 || start + n > Count) throw new ArgumentOutOfRangeException(nameof(start), $"rows {start}..{start + n} of {Count}");
        if (destination.Length < (long)n * Dimension) throw new ArgumentException("destination too short", nameof(destination));
        int done = 0;
        if (start < _mappedCount)
        {
            done = (int)Math.Min(n, _mappedCount - start);
            ReadMapped(start, done, destination);
        }
        if (done < n)
        {
            int first = (int)((start + done - _mappedCount) * Dimension);
            CollectionsMarshal.AsSpan(_added).Slice(first, (n - done) * Dimension).CopyTo(destination.AsSpan(done * Dimension));
        }
    }

    [ThreadStatic] private static Half[]? t_halves;

    private void ReadMapped(long start, int n, float[] destination)
    {
        var view = _view ?? throw new ObjectDisposedException(nameof(ImageIndex));
        int elements = n * Dimension;
        long position = start * Dimension * ImageIndexFile.ElementSize(Storage);
        if (Storage == VectorStorage.Float32)
        {
            // Straight from the mapped pages into the block (a memmove); the file's bytes are little-endian floats.
            view.ReadArray(position, destination, 0, elements);
        }
        else
        {
            var halves = t_halves is { } h && h.Length >= elements ? h : t_halves = new Half[elements];
            view.ReadArray(position, halves, 0, elements);
            TensorPrimitives.ConvertToSingle(halves.AsSpan(0, elements), destination.AsSpan(0, elements));
        }
    }

    /// <summary>
    /// The <paramref name="k"/> most similar vectors to each query row of <paramref name="queries"/> [q, D] (normalised
    /// here, so raw embeddings are fine), best first. Exact: every stored vector is scored. With
    /// <paramref name="exclude"/>, query i skips row exclude[i] (a negative value skips nothing) — how an indexed image
    /// queries the index without finding itself.
    /// </summary>
    public IReadOnlyList<SearchHit>[] Search(Tensor queries, int k, IReadOnlyList<long>? exclude = null)
    {
        ArgumentNullException.ThrowIfNull(queries);
        if (queries.Rank != 2 || queries.Size(1) != Dimension)
            throw new ArgumentException($"ImageIndex.Search: expected queries [q, {Dimension}], got {ShapeChecks.Format(queries.Shape)}", nameof(queries));
        if (k < 1) throw new ArgumentOutOfRangeException(nameof(k), k, "k must be at least 1");
        int q = queries.Size(0);
        if (exclude is not null && exclude.Count != q) throw new ArgumentException($"exclude has {exclude.Count} entries for {q} queries", nameof(exclude));
        var heaps = new TopK[q];
        for (int i = 0; i < q; i++) heaps[i] = new TopK((int)Math.Min(k, Math.Max(1, Count)));
        var qRows = Normalize(queries);
        if (q <= DirectScanMaxQueries)
        {
            ScanDirect(qRows, q, heaps, exclude);
            return Hits(heaps);
        }
        var qTensor = Tensor.FromArray(qRows, q, Dimension);
        using (GradMode.Disable())
        {
            var block = Tensor.Zeros(BlockRows, Dimension);
            var blockRows = (float[])block.Storage.Data; // the block tensor's own array: rows land where the GEMM reads them
            for (long start = 0; start < Count; start += BlockRows)
            {
                int n = (int)Math.Min(BlockRows, Count - start);
                ReadRows(start, n, blockRows);
                var rowsT = block.Narrow(0, 0, n).T;
                for (int q0 = 0; q0 < q; q0 += QueryTile)
                {
                    int qn = Math.Min(QueryTile, q - q0);
                    // The scores of this tile: Q[q0..q0+qn] · Bᵀ, one GEMM through the backend.
                    var scores = qTensor.Narrow(0, q0, qn).MatMul(rowsT).Contiguous();
                    Select((float[])scores.Storage.Data, scores.Offset, qn, n, q0, start, heaps, exclude);
                }
            }
        }
        return Hits(heaps);
    }

    private IReadOnlyList<SearchHit>[] Hits(TopK[] heaps) =>
        heaps.Select(h => (IReadOnlyList<SearchHit>)h.Sorted().Select(e => new SearchHit(e.Row, e.Score, _paths[(int)e.Row])).ToList()).ToArray();

    // Few queries: chunks of rows in parallel, each copied into a per-thread buffer and scored by dot products into
    // per-thread heaps, which are merged at the end (ties go to the lower row, so the order of chunks does not matter).
    private void ScanDirect(float[] qRows, int q, TopK[] heaps, IReadOnlyList<long>? exclude)
    {
        int k = heaps[0].Capacity, d = Dimension;
        long chunks = (Count + ScanChunkRows - 1) / ScanChunkRows;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Threading.MaxDegreeOfParallelism) };
        Parallel.For(0L, chunks, options, () => (Rows: new float[ScanChunkRows * d], Heaps: Enumerable.Range(0, q).Select(_ => new TopK(k)).ToArray()), (c, _, local) =>
        {
            long start = c * ScanChunkRows;
            int n = (int)Math.Min(ScanChunkRows, Count - start);
            ReadRows(start, n, local.Rows);
            for (int i = 0; i < q; i++)
            {
                var query = qRows.AsSpan(i * d, d);
                var heap = local.Heaps[i];
                long skip = exclude is null ? -1 : exclude[i] - start;
                float threshold = heap.Threshold;
                for (int j = 0; j < n; j++)
                {
                    float score = TensorPrimitives.Dot(query, local.Rows.AsSpan(j * d, d));
                    if (score < threshold || j == skip) continue;
                    heap.Offer(score, start + j);
                    threshold = heap.Threshold;
                }
            }
            return local;
        }, local =>
        {
            lock (heaps)
                for (int i = 0; i < q; i++)
                    foreach (var (score, row) in local.Heaps[i].Sorted()) heaps[i].Offer(score, row);
        });
    }

    private static void Select(float[] scores, int offset, int qn, int n, int q0, long start, TopK[] heaps, IReadOnlyList<long>? exclude)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, Threading.MaxDegreeOfParallelism) };
        Parallel.For(0, qn, options, i =>
        {
            var heap = heaps[q0 + i];
            long skip = exclude is null ? -1 : exclude[q0 + i] - start;
            var row = scores.AsSpan(offset + i * n, n);
            float threshold = heap.Threshold;
            for (int j = 0; j < row.Length; j++)
            {
                if (row[j] < threshold || j == skip) continue;
                heap.Offer(row[j], start + j);
                threshold = heap.Threshold;
            }
        });
    }

    /// <summary>
    /// Writes the vectors to a NumPy <c>.npy</c> file [N, D] (<c>&lt;f4</c> or <c>&lt;f2</c> as stored), atomically,
    /// for a vector database (Qdrant, pgvector) or NumPy; row i is <see cref="Paths"/>[i].
    /// </summary>
    public void ExportNpy(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        AtomicFile.Write(path, s =>
        {
            Npy.WriteHeader(s, Storage == VectorStorage.Float16 ? "<f2" : "<f4", Count, Dimension);
            var block = new float[BlockRows * Dimension];
            var halves = new Half[block.Length];
            for (long start = 0; start < Count; start += BlockRows)
            {
                int n = (int)Math.Min(BlockRows, Count - start);
                ReadRows(start, n, block);
                var rows = block.AsSpan(0, n * Dimension);
                if (Storage == VectorStorage.Float16)
                {
                    TensorPrimitives.ConvertToHalf(rows, halves);
                    s.Write(MemoryMarshal.AsBytes(halves.AsSpan(0, rows.Length)));
                }
                else
                {
                    s.Write(MemoryMarshal.AsBytes(rows));
                }
            }
        });
    }

    /// <summary>Unmaps the file.</summary>
    public void Dispose()
    {
        _view?.Dispose();
        _map?.Dispose();
    }
}
