using Fovea;
using Fovea.Vision;
using Fovea.Vision.Imaging;
using Fovea.Backends;                                      // TemplateMatchMethod

// Two pictures to blend, drawn here and saved as PNG so that the sample reads real files: an apple and an orange.
string dir = Directory.CreateTempSubdirectory("fovea-vision-sample").FullName;
ImageIO.SavePng(Path.Combine(dir, "apple.png"), ImagePlanes.FromTensor(Disc(96, 128, red: 0.8f, green: 0.1f, blue: 0.1f)));
ImageIO.SavePng(Path.Combine(dir, "orange.png"), ImagePlanes.FromTensor(Disc(96, 128, red: 1.0f, green: 0.6f, blue: 0.1f)));

Tensor a = ImageIO.Load(Path.Combine(dir, "apple.png")).ToTensor();    // [3, H, W]
Tensor b = ImageIO.Load(Path.Combine(dir, "orange.png")).ToTensor();

Tensor half = Pyramids.PyrDown(a);                         // OpenCV pyrDown: [3, (H+1)/2, (W+1)/2]
Tensor up = Pyramids.PyrUp(half, (a.Size(1), a.Size(2)));  // OpenCV pyrUp to a requested size
Tensor[] gauss = Pyramids.GaussianPyramid(a, 5);           // G_0 .. G_4
Tensor[] lap = Pyramids.LaplacianPyramid(a, 5);            // 4 bands + the low-pass residual
Tensor back = Pyramids.Reconstruct(lap);                   // a again, to float rounding
Tensor mask = LeftHalf(a.Size(1), a.Size(2));              // [H, W] in [0, 1], 1 selects a
Tensor blended = Pyramids.Blend(a, b, mask, levels: 5);    // Burt & Adelson multiresolution spline

SteerableBasis basis = SteerableFilter.Basis(a, sigma: 2); // Gx, Gy: two separable filterings
Tensor edges30 = basis.Steer(30 * Math.PI / 180);          // any angle from the two basis responses

var sp = SteerablePyramid.Build(a, scales: 3, orientations: 4);
Tensor band = sp.Band(1, 2);                               // scale 1, orientation 2 (edit bands freely)
Tensor same = sp.Reconstruct();

ImageIO.SavePng(Path.Combine(dir, "blended.png"), ImagePlanes.FromTensor(blended.Clamp(0, 1)));
Console.WriteLine($"pyrDown {Shape(half)}, pyrUp {Shape(up)}");
Console.WriteLine($"Gaussian pyramid {string.Join(" ", gauss.Select(Shape))}");
Console.WriteLine($"Laplacian pyramid reconstructs to 1e-5: {MaxAbsDiff(back, a) < 1e-5}");
Console.WriteLine($"blend {Shape(blended)}: left column from the apple: {MaxAbsDiff(blended.Narrow(2, 0, 1), a.Narrow(2, 0, 1)) < 1e-3}");
Console.WriteLine($"steered edges {Shape(edges30)}, steerable band {Shape(band)}, reconstructs to 1e-4: {MaxAbsDiff(same, a) < 1e-4}");

// Template matching: a noisy picture with three copies of a pattern; the three best matches are the copies.
Tensor gray = Grayscale.ToGray(ImagePlanes.FromTensor(Scene(out Tensor pattern))).ToTensor();  // [1, H, W]
Tensor templ = gray.Narrow(1, 30, 20).Narrow(2, 40, 20).Contiguous();                         // the first copy
Tensor scores = Matching.MatchTemplate(gray, templ, TemplateMatchMethod.CCoeffNormed);         // NCC, [H - h + 1, W - w + 1]
Peak[] best = Matching.FindPeaks(scores, k: 3, minDistance: 10);
foreach (var p in best.OrderBy(p => p.Y).ThenBy(p => p.X))
    Console.WriteLine($"match at x={p.X} y={p.Y} score {p.Score:F3}");
Directory.Delete(dir, recursive: true);

static string Shape(Tensor t) => "[" + string.Join(", ", t.Shape) + "]";

static double MaxAbsDiff(Tensor x, Tensor y) => (x - y).Abs().Max().ToScalar();

// A coloured disc on a white background, [3, H, W] in [0, 1].
static Tensor Disc(int height, int width, float red, float green, float blue)
{
    var data = new float[3 * height * width];
    float[] colour = [red, green, blue];
    for (int c = 0; c < 3; c++)
        for (int yy = 0; yy < height; yy++)
            for (int xx = 0; xx < width; xx++)
            {
                double dy = yy - height / 2.0, dx = xx - width / 2.0;
                bool inside = dx * dx + dy * dy < 0.16 * height * height;
                data[(c * height + yy) * width + xx] = inside ? colour[c] : 1f;
            }
    return Tensor.FromArray(data, 3, height, width);
}

// 1 on the left half (columns x < W/2), 0 on the right.
static Tensor LeftHalf(int height, int width)
{
    var data = new float[height * width];
    for (int yy = 0; yy < height; yy++)
        for (int xx = 0; xx < width / 2; xx++)
            data[yy * width + xx] = 1f;
    return Tensor.FromArray(data, height, width);
}

// A 120x160 gray picture of seeded noise with a 20x20 random pattern pasted at (40, 30), (110, 20) and (70, 90).
static Tensor Scene(out Tensor pattern)
{
    var image = Tensor.Rand([1, 120, 160], new Generator(3)) * 0.5f;
    pattern = Tensor.Rand([1, 20, 20], new Generator(4));
    foreach (var (x, y) in new[] { (40, 30), (110, 20), (70, 90) })
        image.Narrow(1, y, 20).Narrow(2, x, 20).CopyFrom(pattern);
    return image;
}
