using Fovea.NN;
using Fovea.Vision.Training;

namespace Fovea.Onnx;

/// <summary>
/// Transfer learning from ImageNet: images [N, C, H, W] with values in [0, 1] (C = 1 or 3, any size) are resized to
/// 224² (bilinear), made 3-channel, scaled to 0–255, put through the pretrained network's own preprocessing
/// (<c>preprocess</c>) and its ResNet-18 body (<c>features</c>), and a new linear layer (<c>head</c>) maps the 512
/// pooled features to the classes. With <see cref="BodyFrozen"/> (the default) the body is fixed: it stays in
/// evaluation mode (its batch norms keep ImageNet's statistics) and runs without recording gradients, so only the head
/// trains; setting <see cref="BodyFrozen"/> to false fine-tunes the body too (give the body a lower rate through
/// <see cref="BodyParameters"/> and <see cref="HeadParameters"/> as separate optimizer groups).
/// </summary>
public sealed class PretrainedClassifier : Module<Tensor, Tensor>, ITransferClassifier
{
    private bool _bodyFrozen;

    /// <summary>Builds the classifier over an imported preprocessing model and feature extractor.</summary>
    public PretrainedClassifier(OnnxModule preprocess, OnnxModule features, int featureCount, int classes, bool freezeBody = true, Generator? generator = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 2);
        Preprocess = RegisterModule("preprocess", preprocess);
        Features = RegisterModule("features", features);
        Head = RegisterModule("head", new Linear(featureCount, classes, generator: generator));
        Classes = classes;
        preprocess.Freeze();
        BodyFrozen = freezeBody;
    }

    /// <summary>The pretrained network's preprocessing (RGB 0–255 to its input; never trained).</summary>
    public OnnxModule Preprocess { get; }

    /// <summary>The pretrained body.</summary>
    public OnnxModule Features { get; }

    /// <summary>The new classifier layer.</summary>
    public Linear Head { get; }

    Module<Tensor, Tensor> ITransferClassifier.Head => Head;

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The side the images are resized to.</summary>
    public int ImageSize { get; init; } = PretrainedModels.ResNet18ImageSize;

    /// <summary>Whether the body is fixed (only the head trains). Setting it freezes or unfreezes the body's parameters.</summary>
    public bool BodyFrozen
    {
        get => _bodyFrozen;
        set
        {
            _bodyFrozen = value;
            if (value) Features.Freeze();
            else Features.Unfreeze();
        }
    }

    /// <summary>The body's parameters (a lower learning rate when fine-tuning).</summary>
    public IEnumerable<Tensor> BodyParameters => Features.Parameters();

    /// <summary>The head's parameters.</summary>
    public IEnumerable<Tensor> HeadParameters => Head.Parameters();

    /// <inheritdoc />
    public override string Describe() => $"PretrainedClassifier({Features.Describe()} -> {Classes} classes, body {(BodyFrozen ? "frozen" : "trainable")})";

    /// <summary>The 512 features of each image, [N, 512].</summary>
    public Tensor ExtractFeatures(Tensor images)
    {
        if (images.Rank != 4 || images.Size(1) is not (1 or 3))
            throw new ArgumentException($"pretrained classifier: expected images [N, 1 or 3, H, W] with values in [0, 1], got [{string.Join(", ", images.Shape)}]");
        var x = images.Size(2) == ImageSize && images.Size(3) == ImageSize
            ? images
            : Functional.Interpolate(images, (ImageSize, ImageSize), mode: InterpolationMode.Bilinear, alignCorners: false);
        if (x.Size(1) == 1) x = x.Expand(x.Size(0), 3, ImageSize, ImageSize);
        x = x.Mul(255.0);
        if (!BodyFrozen) return Features.Forward(Preprocess.Forward(x)).Flatten(1);
        // A frozen body keeps ImageNet's batch-norm statistics and records nothing: the head is all that trains.
        Features.Eval();
        Preprocess.Eval();
        using var _ = GradMode.Disable();
        return Features.Forward(Preprocess.Forward(x)).Flatten(1);
    }

    /// <summary>Class scores (logits) [N, classes].</summary>
    public override Tensor Forward(Tensor images) => Head.Forward(ExtractFeatures(images));
}
