using Fovea.Vision.Imaging;
using Fovea.Vision.Training;

namespace Fovea.Vision.Inspection;

/// <summary>The pictures of the inspection tools: grids of tiles, a heat colour map and overlays on an image.</summary>
public static class InspectionImages
{
    /// <summary>Gap between tiles, in output pixels.</summary>
    public const int Gap = 2;

    /// <summary>
    /// Lays out <paramref name="tiles"/> ([C, h, w] with values in [0, 1], all the same shape, C = 1 or 3) in rows of
    /// <paramref name="columns"/> on a white background, each pixel repeated <paramref name="scale"/> times
    /// (nearest neighbour, so a 3 × 3 kernel stays nine visible squares). The result is always RGB.
    /// </summary>
    public static ImagePlanes Grid(IReadOnlyList<Tensor> tiles, int columns, int scale)
    {
        ArgumentNullException.ThrowIfNull(tiles);
        if (tiles.Count == 0) throw new ArgumentException("a grid needs at least one tile", nameof(tiles));
        if (columns < 1 || scale < 1) throw new ArgumentOutOfRangeException(nameof(columns), "columns and scale must be positive");
        int h = tiles[0].Size(-2), w = tiles[0].Size(-1);
        columns = Math.Min(columns, tiles.Count);
        int rows = (tiles.Count + columns - 1) / columns;
        int cellW = w * scale + Gap, cellH = h * scale + Gap;
        var canvas = new Canvas(columns * cellW + Gap, rows * cellH + Gap);
        canvas.Fill(0, 0, canvas.Width, canvas.Height, Rgb.White);
        for (int t = 0; t < tiles.Count; t++)
        {
            var tile = ImagePlanes.FromTensor(tiles[t].Rank == 2 ? tiles[t].Unsqueeze(0) : tiles[t]);
            if (tile.Height != h || tile.Width != w) throw new ArgumentException($"tile {t} is {tile.Height}x{tile.Width}, not {h}x{w}", nameof(tiles));
            int x0 = Gap + t % columns * cellW, y0 = Gap + t / columns * cellH;
            Draw(canvas, tile, x0, y0, scale);
        }
        return canvas.ToImage();
    }

    /// <summary>Draws a gray or RGB image with its top-left at (x0, y0), each pixel a <paramref name="scale"/>² square.</summary>
    public static void Draw(Canvas canvas, ImagePlanes image, int x0, int y0, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(canvas);
        ArgumentNullException.ThrowIfNull(image);
        for (int y = 0; y < image.Height; y++)
            for (int x = 0; x < image.Width; x++)
                canvas.Fill(x0 + x * scale, y0 + y * scale, x0 + (x + 1) * scale, y0 + (y + 1) * scale, Pixel(image, y, x));
    }

    private static Rgb Pixel(ImagePlanes image, int y, int x)
    {
        int i = y * image.Width + x;
        float r = image.Data[i];
        if (image.Channels < 3) return new Rgb(Math.Clamp(r, 0, 1), Math.Clamp(r, 0, 1), Math.Clamp(r, 0, 1));
        int plane = image.PlaneLength;
        return new Rgb(Math.Clamp(r, 0, 1), Math.Clamp(image.Data[plane + i], 0, 1), Math.Clamp(image.Data[2 * plane + i], 0, 1));
    }

    /// <summary>
    /// The "jet" colour map: 0 dark blue, 0.35 cyan-green, 0.5 green-yellow, 0.65 yellow-orange, 1 dark red —
    /// piecewise linear in each of R, G, B (the clamp of 1.5 − |4v − k| for k = 3, 2, 1).
    /// </summary>
    public static Rgb Jet(double v)
    {
        v = Math.Clamp(v, 0, 1);
        static float Channel(double x) => (float)Math.Clamp(1.5 - Math.Abs(x), 0, 1);
        return new Rgb(Channel(4 * v - 3), Channel(4 * v - 2), Channel(4 * v - 1));
    }

    /// <summary>
    /// <paramref name="heat"/> [S, S] in [0, 1] over <paramref name="picture"/> [C, S, S]: the picture in gray, mixed
    /// with the jet colour of the heat in proportion to the heat (weak values leave the picture visible), as RGB.
    /// </summary>
    public static ImagePlanes Overlay(Tensor picture, Tensor heat)
    {
        ArgumentNullException.ThrowIfNull(picture);
        ArgumentNullException.ThrowIfNull(heat);
        var img = ImagePlanes.FromTensor(picture.Rank == 4 ? picture.Select(0, 0) : picture);
        var gray = img.Channels == 1 ? img : Grayscale.ToGray(img);
        float[] h = heat.Detach().To(DType.Float32).Contiguous().ToArray<float>();
        if (h.Length != gray.PlaneLength) throw new ArgumentException($"heat has {h.Length} values for a {gray.Height}x{gray.Width} picture", nameof(heat));
        var output = ImagePlanes.Zeros(3, gray.Height, gray.Width);
        int n = gray.PlaneLength;
        for (int i = 0; i < n; i++)
        {
            float a = 0.75f * Math.Clamp(h[i], 0, 1), g = Math.Clamp(gray.Data[i], 0, 1);
            var c = Jet(h[i]);
            output.Data[i] = (1 - a) * g + a * c.R;
            output.Data[n + i] = (1 - a) * g + a * c.G;
            output.Data[2 * n + i] = (1 - a) * g + a * c.B;
        }
        return output;
    }

    /// <summary>Panels side by side on white with a caption above each (the 3 × 5 bitmap font at scale 2).</summary>
    public static ImagePlanes Panels(IReadOnlyList<(string Caption, ImagePlanes Image)> panels, int scale = 1)
    {
        ArgumentNullException.ThrowIfNull(panels);
        const int margin = 8, captionHeight = 2 * BitmapFont.GlyphHeight + 8;
        int width = margin, height = 0;
        foreach (var (caption, image) in panels)
        {
            width += Math.Max(image.Width * scale, Canvas.TextWidth(caption)) + margin;
            height = Math.Max(height, image.Height * scale);
        }
        var canvas = new Canvas(width, height + captionHeight + 2 * margin);
        canvas.Fill(0, 0, canvas.Width, canvas.Height, Rgb.White);
        int x = margin;
        foreach (var (caption, image) in panels)
        {
            canvas.Text(x, margin, caption, Rgb.Black);
            Draw(canvas, image, x, margin + captionHeight, scale);
            x += Math.Max(image.Width * scale, Canvas.TextWidth(caption)) + margin;
        }
        return canvas.ToImage();
    }

    /// <summary>A scale that makes a tile of side <paramref name="side"/> at least about 48 pixels (at most 16×).</summary>
    public static int ScaleFor(int side) => Math.Clamp((48 + side - 1) / Math.Max(1, side), 1, 16);

    /// <summary>Each tile stretched to [0, 1] on its own (min → 0, max → 1; a constant tile becomes 0).</summary>
    public static List<Tensor> Stretch(IEnumerable<Tensor> tiles) => tiles.Select(ImageDisplay.MinMax).ToList();
}
