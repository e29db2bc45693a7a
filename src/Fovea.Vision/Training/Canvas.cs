using Fovea.Vision.Imaging;

namespace Fovea.Vision.Training;

/// <summary>An RGB colour with components in [0, 1].</summary>
public readonly record struct Rgb(float R, float G, float B)
{
    /// <summary>Black.</summary>
    public static Rgb Black => new(0, 0, 0);

    /// <summary>White.</summary>
    public static Rgb White => new(1, 1, 1);

    /// <summary>A light gray for grids.</summary>
    public static Rgb Grid => new(0.88f, 0.88f, 0.88f);

    /// <summary>The first series colour (blue).</summary>
    public static Rgb Blue => new(0.12f, 0.47f, 0.71f);

    /// <summary>The second series colour (orange).</summary>
    public static Rgb Orange => new(1f, 0.5f, 0.05f);

    /// <summary>A red for fits and errors.</summary>
    public static Rgb Red => new(0.84f, 0.15f, 0.16f);

    /// <summary>Linear blend: <c>a·(1 − t) + b·t</c>.</summary>
    public static Rgb Lerp(Rgb a, Rgb b, double t)
    {
        float u = (float)Math.Clamp(t, 0, 1);
        return new(a.R + (b.R - a.R) * u, a.G + (b.G - a.G) * u, a.B + (b.B - a.B) * u);
    }
}

/// <summary>
/// A small managed RGB drawing surface (pixels, lines, rectangles, circles, text in <see cref="BitmapFont"/>) for the
/// training curves and the experiments' pictures; <see cref="Save"/> writes it as PNG through <see cref="ImageIO"/>.
/// </summary>
public sealed class Canvas
{
    private readonly float[] _data;

    /// <summary>A white canvas of <paramref name="width"/> x <paramref name="height"/> pixels.</summary>
    public Canvas(int width, int height)
    {
        if (width < 1 || height < 1) throw new ArgumentException($"Canvas: size must be positive, got {width}x{height}");
        Width = width;
        Height = height;
        _data = new float[3 * width * height];
        Array.Fill(_data, 1f);
    }

    /// <summary>Width in pixels.</summary>
    public int Width { get; }

    /// <summary>Height in pixels.</summary>
    public int Height { get; }

    /// <summary>Sets one pixel (ignored outside the canvas).</summary>
    public void Set(int x, int y, Rgb c)
    {
        if ((uint)x >= (uint)Width || (uint)y >= (uint)Height) return;
        int i = y * Width + x, n = Width * Height;
        _data[i] = c.R;
        _data[n + i] = c.G;
        _data[2 * n + i] = c.B;
    }

    /// <summary>The colour of one pixel.</summary>
    public Rgb Get(int x, int y)
    {
        int i = y * Width + x, n = Width * Height;
        return new(_data[i], _data[n + i], _data[2 * n + i]);
    }

    /// <summary>Fills the rectangle [x0, x1) x [y0, y1).</summary>
    public void Fill(int x0, int y0, int x1, int y1, Rgb c)
    {
        for (int y = Math.Max(0, y0); y < Math.Min(Height, y1); y++)
            for (int x = Math.Max(0, x0); x < Math.Min(Width, x1); x++) Set(x, y, c);
    }

    /// <summary>A line from (x0, y0) to (x1, y1), <paramref name="thickness"/> pixels wide (Bresenham with a square pen).</summary>
    public void Line(int x0, int y0, int x1, int y1, Rgb c, int thickness = 1)
    {
        int dx = Math.Abs(x1 - x0), dy = -Math.Abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, err = dx + dy;
        int lo = -(thickness - 1) / 2, hi = thickness / 2;
        while (true)
        {
            for (int oy = lo; oy <= hi; oy++)
                for (int ox = lo; ox <= hi; ox++) Set(x0 + ox, y0 + oy, c);
            if (x0 == x1 && y0 == y1) break;
            int e2 = 2 * err;
            if (e2 >= dy) { err += dy; x0 += sx; }
            if (e2 <= dx) { err += dx; y0 += sy; }
        }
    }

    /// <summary>A filled disc of radius <paramref name="r"/> centred at (cx, cy).</summary>
    public void Disc(int cx, int cy, int r, Rgb c)
    {
        for (int y = -r; y <= r; y++)
            for (int x = -r; x <= r; x++)
                if (x * x + y * y <= r * r) Set(cx + x, cy + y, c);
    }

    /// <summary>Draws <paramref name="text"/> with its top-left corner at (x, y), each font pixel <paramref name="scale"/> pixels wide.</summary>
    public void Text(int x, int y, string text, Rgb c, int scale = 2)
    {
        foreach (char ch in text)
        {
            var rows = BitmapFont.Glyph(ch);
            for (int row = 0; row < BitmapFont.GlyphHeight; row++)
                for (int col = 0; col < BitmapFont.GlyphWidth; col++)
                    if ((rows[row] >> (BitmapFont.GlyphWidth - 1 - col) & 1) != 0)
                        Fill(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, c);
            x += BitmapFont.Advance * scale;
        }
    }

    /// <summary>Width in pixels of <paramref name="text"/> at <paramref name="scale"/>.</summary>
    public static int TextWidth(string text, int scale = 2) => Math.Max(0, text.Length * BitmapFont.Advance * scale - scale);

    /// <summary>Copies a gray image [h, w] (values in [0, 1]) with its top-left at (x, y), each pixel <paramref name="scale"/> wide.</summary>
    public void Gray(int x, int y, ReadOnlySpan<float> pixels, int h, int w, int scale = 1)
    {
        for (int r = 0; r < h; r++)
            for (int col = 0; col < w; col++)
            {
                float v = Math.Clamp(pixels[r * w + col], 0f, 1f);
                Fill(x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, new Rgb(v, v, v));
            }
    }

    /// <summary>The canvas as a 3-channel image.</summary>
    public ImagePlanes ToImage() => new((float[])_data.Clone(), 3, Height, Width);

    /// <summary>Writes the canvas as PNG (atomically, through <see cref="ImageIO.SavePng"/>).</summary>
    public void Save(string path)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        ImageIO.SavePng(path, ToImage());
    }
}

/// <summary>
/// A tiny built-in 3x5 pixel font (digits, capital letters — lower case is drawn as capitals — and a little
/// punctuation), so charts can carry labels without a font file or native text rendering.
/// </summary>
public static class BitmapFont
{
    /// <summary>Glyph width in font pixels.</summary>
    public const int GlyphWidth = 3;

    /// <summary>Glyph height in font pixels.</summary>
    public const int GlyphHeight = 5;

    /// <summary>Horizontal distance from one glyph to the next (one pixel of spacing).</summary>
    public const int Advance = 4;

    // Each glyph is five rows, each row one octal digit whose bits are the three columns, left = 4.
    private static readonly Dictionary<char, string> Glyphs = new()
    {
        ['0'] = "75557",
        ['1'] = "26227",
        ['2'] = "71747",
        ['3'] = "71317",
        ['4'] = "55711",
        ['5'] = "74717",
        ['6'] = "74757",
        ['7'] = "71111",
        ['8'] = "75757",
        ['9'] = "75717",
        ['A'] = "25755",
        ['B'] = "65656",
        ['C'] = "34443",
        ['D'] = "65556",
        ['E'] = "74647",
        ['F'] = "74644",
        ['G'] = "34553",
        ['H'] = "55755",
        ['I'] = "72227",
        ['J'] = "11152",
        ['K'] = "55655",
        ['L'] = "44447",
        ['M'] = "57755",
        ['N'] = "65555",
        ['O'] = "25552",
        ['P'] = "65644",
        ['Q'] = "25563",
        ['R'] = "65655",
        ['S'] = "34216",
        ['T'] = "72222",
        ['U'] = "55557",
        ['V'] = "55552",
        ['W'] = "55775",
        ['X'] = "55255",
        ['Y'] = "55222",
        ['Z'] = "71247",
        [' '] = "00000",
        ['.'] = "00002",
        [','] = "00024",
        ['-'] = "00700",
        ['+'] = "02720",
        [':'] = "02020",
        ['%'] = "51245",
        ['/'] = "11244",
        ['('] = "12221",
        [')'] = "42224",
        ['='] = "07070",
        ['_'] = "00007",
        ['?'] = "71202",
        ['\''] = "22000",
        ['*'] = "05250",
        ['<'] = "12421",
        ['>'] = "42124",
    };

    /// <summary>The five rows of <paramref name="c"/> (bit 2 = left column); unknown characters draw as '?'.</summary>
    public static int[] Glyph(char c)
    {
        if (!Glyphs.TryGetValue(char.ToUpperInvariant(c), out var s)) s = Glyphs['?'];
        var rows = new int[GlyphHeight];
        for (int i = 0; i < GlyphHeight; i++) rows[i] = s[i] - '0';
        return rows;
    }
}
