using System.Globalization;
using Fovea.Vision.Imaging;

namespace Fovea.Vision.Datasets;

/// <summary>The file formats an image folder can be written in.</summary>
public enum ImageFileType
{
    /// <summary>8-bit PNG (lossless).</summary>
    Png,
    /// <summary>Baseline JPEG at a chosen quality.</summary>
    Jpeg,
    /// <summary>Uncompressed BMP.</summary>
    Bmp,
}

/// <summary>
/// Writes a tensor dataset as an image folder that <see cref="ImageFolder"/> reads back: one sub-folder per class
/// (named after the class, with characters that cannot be in a file name replaced by '-'), and in it one file per
/// image named by the image's index in the dataset (<c>00042.jpg</c>). Each file is written atomically; a non-empty
/// output folder is refused unless overwriting is asked for.
/// </summary>
public static class ImageFolderExport
{
    /// <summary>The extension written for <paramref name="type"/> (with the dot).</summary>
    public static string Extension(ImageFileType type) => type switch
    {
        ImageFileType.Png => ".png",
        ImageFileType.Jpeg => ".jpg",
        _ => ".bmp",
    };

    /// <summary>
    /// A folder name for class <paramref name="name"/>: '/', '\', ':' and other characters that are not allowed in
    /// file names (on any common system) become '-'; spaces are kept; an empty or dot-only result becomes "class".
    /// </summary>
    public static string FolderName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var invalid = Path.GetInvalidFileNameChars().Concat(['/', '\\', ':', '*', '?', '"', '<', '>', '|']).ToHashSet();
        string s = new string(name.Select(c => invalid.Contains(c) || char.IsControl(c) ? '-' : c).ToArray()).Trim();
        return s.Trim('.').Length == 0 ? "class" : s;
    }

    /// <summary>
    /// Writes images [N, C, H, W] (float, values in [0, 1]; 1 or 3 channels) with labels [N] (int, below the number
    /// of <paramref name="classNames"/>) into <paramref name="root"/>: the first <paramref name="perClass"/> images of
    /// each class in dataset order (all when null), JPEG at <paramref name="quality"/>. Returns the files written per
    /// class. <paramref name="progress"/>, if given, is called after each file with the count so far.
    /// </summary>
    /// <exception cref="IOException"><paramref name="root"/> is a file, or a non-empty folder and <paramref name="force"/> is false.</exception>
    public static int[] Write(string root, Tensor images, Tensor labels, IReadOnlyList<string> classNames, ImageFileType type,
        int? perClass = null, int quality = 95, bool force = false, Action<int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentNullException.ThrowIfNull(classNames);
        if (images.Rank != 4 || labels.Rank != 1 || images.Size(0) != labels.Size(0))
            throw new ShapeException("ImageFolderExport.Write", $"expected images [N, C, H, W] and labels [N], got {ShapeChecks.Format(images.Shape)} and {ShapeChecks.Format(labels.Shape)}");
        if (perClass is < 1) throw new ArgumentOutOfRangeException(nameof(perClass), perClass, "at least one image per class");
        if (quality is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), quality, "JPEG quality is 1 to 100");
        var folders = classNames.Select(FolderName).ToArray();
        var clash = folders.GroupBy(f => f, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null) throw new ArgumentException($"two classes would share the folder '{clash.Key}'", nameof(classNames));
        if (File.Exists(root)) throw new IOException($"cannot write into {root}: it is a file, not a directory");
        if (Directory.Exists(root) && Directory.EnumerateFileSystemEntries(root).Any() && !force)
            throw new IOException($"{root} is not empty; choose an empty or new folder, or pass --force to write into it");

        var label = labels.To(DType.Int32).Contiguous().ToArray<int>();
        int n = label.Length, digits = Math.Max(5, n.ToString(CultureInfo.InvariantCulture).Length);
        var written = new int[classNames.Count];
        var x = images.Detach().To(DType.Float32).Contiguous();
        int c = x.Size(1), h = x.Size(2), w = x.Size(3);
        foreach (string f in folders) Directory.CreateDirectory(Path.Combine(root, f));
        string ext = Extension(type);
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            int y = label[i];
            if ((uint)y >= (uint)classNames.Count) throw new ArgumentException($"label {y} of image {i} is not below the {classNames.Count} classes", nameof(labels));
            if (perClass is int cap && written[y] >= cap) continue;
            var image = new ImagePlanes(x.Select(0, i).Contiguous().ToArray<float>(), c, h, w);
            string path = Path.Combine(root, folders[y], i.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0') + ext);
            switch (type)
            {
                case ImageFileType.Png: ImageIO.SavePng(path, image); break;
                case ImageFileType.Jpeg: ImageIO.SaveJpeg(path, image, quality); break;
                default: ImageIO.SaveBmp(path, image); break;
            }
            written[y]++;
            progress?.Invoke(++total);
            if (perClass is int all && written.All(k => k >= all)) break;
        }
        return written;
    }
}
