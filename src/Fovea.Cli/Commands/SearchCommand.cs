using System.Globalization;
using Fovea.Vision.Imaging;
using Fovea.Vision.Inspection;
using Fovea.Vision.Retrieval;
using Fovea.Vision.Training;

namespace Fovea.Cli;

/// <summary>
/// <c>fovea search</c>: the images of an index most similar to query images (rank, cosine score, path, and a contact
/// sheet), or with <c>--precision-at K</c> the retrieval quality of the index itself.
/// </summary>
public static class SearchCommand
{
    /// <summary>The command.</summary>
    public static Command Command { get; } = new("search", "INDEX.fvi [--checkpoint FILE] [--top K] [--sheet OUT.png] QUERY...  |  fovea search INDEX.fvi --precision-at K",
        "Find the indexed images most similar to query images (cosine of their features), or measure precision@K", (a, o) =>
        {
            string? checkpoint = a.Option("--checkpoint");
            int top = a.Int("--top", 5, 1, 1000);
            int precisionAt = a.Int("--precision-at", 0, 1, 1000);
            string? sheet = PathArgs.OutputFile(a.Option("--sheet"));
            var positionals = a.Positionals();
            if (positionals.Count == 0) throw new UsageException("search: expected an index file and query images");
            using var index = ImageIndex.Open(PathArgs.InputFile(positionals[0]));
            if (precisionAt > 0)
            {
                if (positionals.Count > 1 || sheet is not null || checkpoint is not null)
                    throw new UsageException("search: --precision-at queries the index with its own images; give no queries, --sheet or --checkpoint");
                return Precision(index, precisionAt, o);
            }
            if (positionals.Count < 2) throw new UsageException("search: give at least one query image after the index");
            var model = InspectionArgs.ForIndex(index.Info.Model, index.Info.ModelFile, index.Info.ModelSha256, checkpoint, "search");
            return Run(index, new ImageEmbedder(model, index.Info.Layer), positionals.Skip(1).ToList(), top, sheet, o);
        });

    /// <summary>Searches with each query image and prints rank, score and path per hit.</summary>
    public static int Run(ImageIndex index, ImageEmbedder embedder, IReadOnlyList<string> queries, int top, string? sheet, TextWriter o)
    {
        var images = queries.Select(InspectionArgs.Image).ToList();
        var hits = index.Search(embedder.Embed(images), top);
        for (int q = 0; q < queries.Count; q++)
        {
            o.WriteLine($"{queries[q]}:");
            for (int i = 0; i < hits[q].Count; i++)
                o.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {i + 1,3}. {hits[q][i].Score,7:0.0000}  {hits[q][i].Path}"));
        }
        if (sheet is not null)
        {
            string root = index.Info.Root ?? Path.GetDirectoryName(index.FilePath) ?? ".";
            InspectionArgs.Save(sheet, ContactSheet(images, hits, root), o);
        }
        return 0;
    }

    /// <summary>One row per query: the query, then its hits with their scores; images read from the index's root.</summary>
    public static ImagePlanes ContactSheet(IReadOnlyList<ImagePlanes> queries, IReadOnlyList<SearchHit>[] hits, string root)
    {
        const int thumb = 96, gap = 6, caption = 16;
        int columns = 1 + hits.Max(h => h.Count);
        var canvas = new Canvas(gap + columns * (thumb + gap) + gap, gap + queries.Count * (thumb + caption + gap));
        for (int q = 0; q < queries.Count; q++)
        {
            int y = gap + q * (thumb + caption + gap);
            Thumbnail(canvas, queries[q], gap, y, "QUERY");
            for (int i = 0; i < hits[q].Count; i++)
            {
                var hit = hits[q][i];
                int x = gap + (i + 1) * (thumb + gap) + gap;
                string file = Path.Combine(root, hit.Path);
                var image = File.Exists(file) ? ImageIO.Load(file) : ImagePlanes.Zeros(1, thumb, thumb);
                Thumbnail(canvas, image, x, y, string.Create(CultureInfo.InvariantCulture, $"{hit.Score:0.000}"));
            }
        }
        return canvas.ToImage();

        static void Thumbnail(Canvas canvas, ImagePlanes image, int x, int y, string text)
        {
            int channels = image.Channels >= 3 ? 3 : 1;
            var small = ImagePlanes.FromTensor(InspectedModel.Resize(image, channels, thumb).Select(0, 0));
            InspectionImages.Draw(canvas, small, x, y);
            canvas.Text(x, y + thumb + 4, text, Rgb.Black);
        }
    }

    /// <summary>
    /// Mean precision@K of the index over its own images: each vector queries the index (itself excluded) and a hit
    /// is relevant when its path's first folder (the class folder) equals the query's.
    /// </summary>
    public static int Precision(ImageIndex index, int k, TextWriter o)
    {
        if (index.Count < 2) throw new InvalidDataException($"{index.FilePath}: precision@K needs at least two images in the index");
        var classes = index.Paths.Select(ClassOf).ToArray();
        if (classes.Any(c => c is null)) throw new UsageException("search: --precision-at needs every path in a class folder (CLASS/IMAGE)");
        double sum = 0;
        var vectors = new float[ImageIndex.QueryTile * index.Dimension];
        for (long start = 0; start < index.Count; start += ImageIndex.QueryTile)
        {
            int n = (int)Math.Min(ImageIndex.QueryTile, index.Count - start);
            index.ReadRows(start, n, vectors);
            var queries = Tensor.FromSpan<float>(vectors.AsSpan(0, n * index.Dimension), n, index.Dimension);
            var hits = index.Search(queries, k, Enumerable.Range(0, n).Select(i => start + i).ToList());
            for (int i = 0; i < n; i++)
                sum += hits[i].Count(h => classes[h.Row] == classes[start + i]) / (double)k;
        }
        o.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"mean precision@{k} over {index.Count} queries (each image of the index, itself excluded; relevant = same class folder): {sum / index.Count:0.0000}"));
        return 0;
    }

    private static string? ClassOf(string path)
    {
        int slash = path.IndexOf('/', StringComparison.Ordinal);
        return slash > 0 ? path[..slash] : null;
    }
}
