namespace Fovea.Vision.Imaging;

/// <summary>Channel layout to load an image as.</summary>
public enum ImageChannels
{
    /// <summary>As stored in the file (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA).</summary>
    Source,
    /// <summary>One gray channel (stb's conversion of colour files).</summary>
    Gray,
    /// <summary>Three channels R, G, B.</summary>
    Rgb,
    /// <summary>Four channels R, G, B, A.</summary>
    Rgba,
}
