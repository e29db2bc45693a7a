using System.Globalization;
using Fovea.NN;
using Fovea.Vision.Imaging;
using F = Fovea.NN.Functional;

namespace Fovea.Vision.Inspection;

/// <summary>The saliency of one image for one class (see <see cref="Saliency.Compute"/>).</summary>
/// <param name="Class">The output explained.</param>
/// <param name="Score">Its score (logit) for the image.</param>
/// <param name="Picture">The picture the network saw, [C, S, S] in [0, 1].</param>
/// <param name="Gradient">Simonyan et al.'s map [S, S]: max over channels of |∂score/∂pixel|, divided by its maximum.</param>
/// <param name="GradCam">Grad-CAM [S, S]: relu(Σ_c α_c A_c) upsampled bilinearly and divided by its maximum.</param>
/// <param name="CamLayer">The layer whose maps A Grad-CAM weighs.</param>
public sealed record SaliencyMaps(int Class, double Score, Tensor Picture, Tensor Gradient, Tensor GradCam, string CamLayer);

/// <summary>
/// Which pixels a class score depends on. The vanilla gradient (Simonyan, Vedaldi and Zisserman 2014, "Deep inside
/// convolutional networks", eq. 2 and §3.1): w = ∂S_c/∂I at the image, and the map M_ij = max_c |w_(c,i,j)|.
/// Grad-CAM (Selvaraju et al. 2017, eq. 1–2): α_k = (1/Z) Σ_ij ∂S_c/∂A^k_ij over the maps A^k of a late convolutional
/// layer, and L = relu(Σ_k α_k A^k), upsampled to the image. Both come from one forward and one backward pass.
/// </summary>
public static class Saliency
{
    /// <summary>
    /// Both maps for <paramref name="image"/> and class <paramref name="classIndex"/> (default: the predicted class).
    /// <paramref name="camLayer"/> defaults to <see cref="LastSpatialLayer"/>.
    /// </summary>
    public static SaliencyMaps Compute(InspectedModel model, ImagePlanes image, int? classIndex = null, string? camLayer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var picture = model.ToInput(image);
        camLayer ??= LastSpatialLayer(model.Model, model.Normalize(picture));
        // Pass 1, the input gradient: the picture is the leaf.
        var leaf = picture.Detach().RequiresGrad_();
        var logits = model.Model.Call(model.Normalize(leaf));
        if (logits.Rank != 2 || logits.Size(0) != 1)
            throw new ArgumentException($"saliency needs a model that gives scores [1, classes]; {model.Model.Describe()} gives {ShapeChecks.Format(logits.Shape)}");
        int classes = logits.Size(1);
        int k = classIndex ?? ArgMax(logits);
        if (k < 0 || k >= classes) throw new ArgumentOutOfRangeException(nameof(classIndex), k, $"the model has classes 0 to {classes - 1}");
        var score = logits.Select(1, k).Sum();
        var inputGrad = Autograd.Grad(score, leaf);

        // Pass 2, Grad-CAM: a forward hook swaps the layer's maps for a leaf copy, so ∂S/∂A arrives as a leaf's gradient.
        Tensor? maps = null;
        var layerModule = FeatureExtractor.Find(model.Model, camLayer);
        Tensor camScore;
        using (layerModule.RegisterForwardHook((_, _, y) => maps = y.Detach().RequiresGrad_()))
        {
            camScore = model.Model.Call(model.Normalize(picture.Detach())).Select(1, k).Sum();
        }
        if (maps is null) throw new InvalidOperationException($"Grad-CAM: layer '{camLayer}' did not run in the forward pass");
        if (maps.Rank != 4)
            throw new ArgumentException($"Grad-CAM needs feature maps [1, C, H, W]; layer '{camLayer}' gives {ShapeChecks.Format(maps.Shape)}");
        var mapGrad = Autograd.Grad(camScore, maps);
        using var _ = GradMode.Disable();
        var gradient = inputGrad.Select(0, 0).Abs().Amax([0]);
        var alpha = mapGrad.Mean([2, 3], keepDim: true);                      // α_k: the gradient averaged over the map
        var cam = maps.Detach().Mul(alpha).Sum([1], keepDim: true).Relu();     // relu(Σ_k α_k A^k), [1, 1, h, w]
        cam = F.Interpolate(cam, new Size2d(model.InputSize, model.InputSize), mode: InterpolationMode.Bilinear, alignCorners: false);
        return new SaliencyMaps(k, score.Item<float>(), picture.Select(0, 0), DivideByMax(gradient), DivideByMax(cam.Select(0, 0).Select(0, 0)), camLayer);
    }

    /// <summary>
    /// The layer Grad-CAM uses by default: of the modules that run in one forward pass, the last to finish with maps
    /// [1, C, H, W] of more than one pixel — the end of the convolutional part (<c>features</c> of the zoo's VGG-style
    /// models, <c>layer4</c> of a ResNet), whose maps the classifier then pools or flattens.
    /// </summary>
    public static string LastSpatialLayer(Module<Tensor, Tensor> model, Tensor input)
    {
        ArgumentNullException.ThrowIfNull(model);
        string? last = null;
        var handles = new List<RemovableHandle>();
        try
        {
            foreach (var name in FeatureExtractor.ValidNames(model))
            {
                string n = name;
                handles.Add(FeatureExtractor.Find(model, name).RegisterForwardHook((_, _, y) =>
                {
                    if (y.Rank == 4 && y.Size(2) * y.Size(3) > 1) last = n;
                }));
            }
            using (GradMode.Disable()) model.Call(input);
        }
        finally
        {
            foreach (var h in handles) h.Remove();
        }
        return last ?? throw new ArgumentException($"{model.Describe()} has no layer with spatial feature maps for Grad-CAM");
    }

    /// <summary>Three panels: the picture, the gradient map over it and Grad-CAM over it, captioned with the class.</summary>
    public static ImagePlanes Render(SaliencyMaps maps, IReadOnlyList<string>? classNames = null)
    {
        ArgumentNullException.ThrowIfNull(maps);
        string name = classNames is not null && maps.Class < classNames.Count ? classNames[maps.Class] : maps.Class.ToString(CultureInfo.InvariantCulture);
        int scale = Math.Max(1, 224 / maps.Picture.Size(-1));
        var picture = ImagePlanes.FromTensor(maps.Picture);
        return InspectionImages.Panels(
        [
            (string.Create(CultureInfo.InvariantCulture, $"{name} {maps.Score:0.00}"), picture),
            ("gradient", InspectionImages.Overlay(maps.Picture, maps.Gradient)),
            ("grad-cam " + maps.CamLayer, InspectionImages.Overlay(maps.Picture, maps.GradCam)),
        ], scale);
    }

    private static int ArgMax(Tensor logits)
    {
        var v = logits.Detach().To(DType.Float32).Contiguous().ToArray<float>();
        int best = 0;
        for (int i = 1; i < v.Length; i++) if (v[i] > v[best]) best = i;
        return best;
    }

    private static Tensor DivideByMax(Tensor map)
    {
        var m = map.Detach().To(DType.Float32).Contiguous();
        float max = 0;
        foreach (float v in m.AsSpan<float>()) max = Math.Max(max, v);
        return max > 0 ? m.Mul(1.0 / max) : m;
    }
}
