#:project ../src/Fovea.Vision/Fovea.Vision.csproj
#:property PublishAot=false
#:property TreatWarningsAsErrors=false
// Builds a small colour image folder from photographs, to measure colour augmentation (fovea train --augment pca):
// one class per photograph, 32x32 patches (64x64 crops averaged 2x2). train/ and val/ come from the top half of each
// photograph, test/ from the bottom half with its illumination changed: each test patch's channels are scaled by
// gains drawn from U(0.75, 1.25) and shifted by a brightness offset from U(-0.1, 0.1), so colour invariance matters.
// The photographs: Debian's python3-skimage ships them (no network needed where its .deb is in the apt cache):
//   cd /tmp && apt-get download python3-skimage && dpkg -x python3-skimage_*.deb sk
//   dotnet run scripts/colour-patches.cs -- /tmp/sk/usr/lib/python3/dist-packages/skimage/data colour-patches [TRAIN_PER_CLASS=200] [SEED=1]
using System.Globalization;
using Fovea.Vision.Imaging;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: dotnet run scripts/colour-patches.cs -- SKIMAGE_DATA_DIR OUT_DIR [TRAIN_PER_CLASS] [SEED]");
    return 2;
}
string source = args[0], output = args[1];
int perClass = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 200;
var rng = new Random(args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 1);
const int Patch = 32, Factor = 2, Crop = Patch * Factor;
string[] photos = ["astronaut.png", "chelsea.png", "coffee.png", "hubble_deep_field.jpg", "ihc.png", "motorcycle_left.png", "retina.jpg", "rocket.jpg"];

foreach (var file in photos)
{
    var image = ImageIO.Load(Path.Combine(source, file), ImageChannels.Rgb);
    string cls = Path.GetFileNameWithoutExtension(file);
    int half = image.Height / 2;
    if (half < Crop || image.Width < Crop) throw new InvalidDataException($"{file}: {image.Width}x{image.Height} is too small for {Crop}x{Crop} crops");
    // Top half for training and validation, bottom half (shifted illumination) for the test.
    Write(image, cls, "train", 0, half, perClass, shift: false);
    Write(image, cls, "val", 0, half, perClass / 4, shift: false);
    Write(image, cls, "test", half, image.Height - half, perClass / 4, shift: true);
    Console.WriteLine($"{cls}: {image.Width}x{image.Height}, {perClass} train / {perClass / 4} val / {perClass / 4} test patches");
}
return 0;

void Write(ImagePlanes image, string cls, string split, int top, int rows, int count, bool shift)
{
    string dir = Path.Combine(output, split, cls);
    Directory.CreateDirectory(dir);
    int plane = image.Height * image.Width;
    for (int n = 0; n < count; n++)
    {
        int y0 = top + rng.Next(rows - Crop + 1), x0 = rng.Next(image.Width - Crop + 1);
        var gain = new float[3];
        for (int c = 0; c < 3; c++) gain[c] = shift ? 0.75f + 0.5f * (float)rng.NextDouble() : 1f;
        float offset = shift ? 0.2f * (float)rng.NextDouble() - 0.1f : 0f;
        var data = new float[3 * Patch * Patch];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < Patch; y++)
                for (int x = 0; x < Patch; x++)
                {
                    float sum = 0;
                    for (int dy = 0; dy < Factor; dy++)
                        for (int dx = 0; dx < Factor; dx++)
                            sum += image.Data[c * plane + (y0 + y * Factor + dy) * image.Width + x0 + x * Factor + dx];
                    data[(c * Patch + y) * Patch + x] = Math.Clamp(gain[c] * sum / (Factor * Factor) + offset, 0f, 1f);
                }
        ImageIO.SavePng(Path.Combine(dir, $"{n:D4}.png"), new ImagePlanes(data, 3, Patch, Patch));
    }
}
