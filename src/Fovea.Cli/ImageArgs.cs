using Fovea.Vision.Imaging;

namespace Fovea.Cli;

/// <summary>How the vision commands read images and write results.</summary>
internal static class ImageArgs
{
    /// <summary>Loads <paramref name="path"/> as a <c>[C, H, W]</c> tensor without alpha: gray stays one channel, colour is RGB.</summary>
    public static Tensor Load(string path)
    {
        var img = ImageIO.Load(PathArgs.InputFile(path));
        if (img.Channels is 1 or 3) return img.ToTensor();
        return ImageIO.Load(path, img.Channels == 2 ? ImageChannels.Gray : ImageChannels.Rgb).ToTensor();
    }

    /// <summary>Loads <paramref name="path"/> as one gray plane <c>[1, H, W]</c> (BT.601 luma for colour files).</summary>
    public static Tensor LoadGray(string path) => Grayscale.ToGray(ImageIO.Load(PathArgs.InputFile(path))).ToTensor();

    /// <summary>Writes a <c>[C, H, W]</c> tensor (values clamped to [0, 1]) atomically, creating the folder.</summary>
    public static void Save(string path, Tensor image) => Save(path, ImagePlanes.FromTensor(image));

    /// <summary>Writes an image atomically (temporary file, then rename), creating the folder.</summary>
    public static void Save(string path, ImagePlanes image)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null) Directory.CreateDirectory(dir);
        ImageIO.SavePng(path, image);
    }

    /// <summary>A required option: fails with a usage error naming it.</summary>
    public static string Required(Args a, string command, params string[] names)
        => a.Option(names) ?? throw new UsageException($"{command}: {names[0]} is required");
}
