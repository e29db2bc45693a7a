using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Fovea.NN;

namespace Fovea.Vision.Training;

/// <summary>
/// A pretrained body with a new classifier head (transfer learning): what <see cref="Trainer"/> needs to train only the
/// head while the body is frozen, or to fine-tune everything with a lower rate for the body. Fovea.Onnx's
/// <c>PretrainedClassifier</c> (the ImageNet ResNet-18) is one.
/// </summary>
public interface ITransferClassifier
{
    /// <summary>Whether the body is fixed (only the head trains); setting it freezes or unfreezes the body's parameters.</summary>
    bool BodyFrozen { get; set; }

    /// <summary>The body's parameters (the lower-rate group when fine-tuning).</summary>
    IEnumerable<Tensor> BodyParameters { get; }

    /// <summary>The head's parameters.</summary>
    IEnumerable<Tensor> HeadParameters { get; }

    /// <summary>The head: features [N, F] to class scores [N, K].</summary>
    Module<Tensor, Tensor> Head { get; }

    /// <summary>The body's features of a batch of images, [N, F] (no gradient is recorded while the body is frozen).</summary>
    Tensor ExtractFeatures(Tensor images);
}

/// <summary>
/// Trains the head of a frozen <see cref="ITransferClassifier"/> without running the body twice on an image: a frozen
/// body is a fixed function of the image, so its features are remembered by the image's content (SHA-256 of its
/// values) and every later epoch, and every validation pass, runs the head alone. Exact whenever the same image comes
/// again, which is the case without augmentation (with augmentation every draw differs and the cache only costs
/// memory, so the trainer does not use it then). The module holds the classifier's own children under their names, so
/// its state dict is the classifier's. Once the body is unfrozen the cache is bypassed.
/// </summary>
internal sealed class FeatureCachingClassifier : Module<Tensor, Tensor>
{
    private readonly ITransferClassifier _classifier;
    private readonly Dictionary<UInt128, float[]> _features = [];

    public FeatureCachingClassifier(Module<Tensor, Tensor> classifier)
    {
        _classifier = classifier as ITransferClassifier ?? throw new ArgumentException($"{classifier.GetType().Name} is not a transfer classifier", nameof(classifier));
        foreach (var (name, child) in classifier.NamedChildren()) RegisterModule(name, child);
    }

    /// <summary>The classifier whose features are kept.</summary>
    public ITransferClassifier Classifier => _classifier;

    /// <summary>Images whose features were computed (and kept).</summary>
    public int CachedImages => _features.Count;

    public override string Describe() => $"FeatureCachingClassifier({CachedImages} images cached)";

    public override Tensor Forward(Tensor images)
    {
        if (!_classifier.BodyFrozen) return _classifier.Head.Forward(_classifier.ExtractFeatures(images));
        var x = images.To(DType.Float32).Contiguous();
        int n = x.Size(0), perImage = x.Numel / Math.Max(1, n);
        var values = x.ToArray<float>();
        var keys = new UInt128[n];
        var missing = new List<int>();
        var pending = new HashSet<UInt128>();
        for (int i = 0; i < n; i++)
        {
            keys[i] = Key(values.AsSpan(i * perImage, perImage));
            if (!_features.ContainsKey(keys[i]) && pending.Add(keys[i])) missing.Add(i);
        }
        if (missing.Count > 0)
        {
            var computed = _classifier.ExtractFeatures(x.IndexSelect(0, Tensor.FromArray(missing.ToArray(), missing.Count))).To(DType.Float32).Contiguous();
            int f = computed.Size(1);
            var flat = computed.ToArray<float>();
            for (int k = 0; k < missing.Count; k++) _features[keys[missing[k]]] = flat.AsSpan(k * f, f).ToArray();
        }
        int width = _features[keys[0]].Length;
        var all = new float[n * width];
        for (int i = 0; i < n; i++) _features[keys[i]].CopyTo(all, i * width);
        var features = Tensor.FromArray(all, n, width);
        if (images.DType != DType.Float32) features = features.To(images.DType);
        return _classifier.Head.Forward(features);
    }

    // The first 128 bits of the SHA-256 of the image's values: a collision is as likely as a guessed 128-bit key.
    private static UInt128 Key(ReadOnlySpan<float> image)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(MemoryMarshal.AsBytes(image), hash);
        return MemoryMarshal.Read<UInt128>(hash);
    }
}
