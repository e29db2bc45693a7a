using Fovea.NN;
using Fovea.Vision.Imaging;
using Fovea.Vision.Inspection;

namespace Fovea.Vision.Retrieval;

/// <summary>
/// Turns images into vectors for an <see cref="ImageIndex"/>: the output of one layer of a network, flattened, with
/// feature maps [N, C, H, W] first averaged over their positions (global average pooling, so the vector has C
/// elements whatever the image size). The default layer is the input of the network's last linear layer: the
/// penultimate features a classifier separates linearly (Razavian et al. 2014, "CNN features off-the-shelf").
/// </summary>
public sealed class ImageEmbedder
{
    /// <summary>Embeds with <paramref name="layer"/> of <paramref name="model"/>, or <see cref="DefaultLayer"/> when null.</summary>
    public ImageEmbedder(InspectedModel model, string? layer = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
        Layer = layer ?? DefaultLayer(model);
        FeatureExtractor.Find(model.Model, Layer);
        Dimension = Embed(Tensor.Zeros(1, model.Channels, model.InputSize, model.InputSize)).Size(1);
    }

    /// <summary>The network.</summary>
    public InspectedModel Model { get; }

    /// <summary>The layer whose output is the vector.</summary>
    public string Layer { get; }

    /// <summary>Length of the vectors.</summary>
    public int Dimension { get; }

    /// <summary>The (unnormalised) vectors [N, D] of pictures [N, C, S, S] in [0, 1].</summary>
    public Tensor Embed(Tensor pictures)
    {
        ArgumentNullException.ThrowIfNull(pictures);
        var y = Model.Features(pictures, Layer);
        using (GradMode.Disable())
        {
            if (y.Rank == 4) y = y.Mean([2, 3]);
            return y.Reshape(y.Size(0), -1).Contiguous();
        }
    }

    /// <summary>The vectors [N, D] of <paramref name="images"/>.</summary>
    public Tensor Embed(IReadOnlyList<ImagePlanes> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        return Embed(Tensor.Cat(images.Select(Model.ToInput).ToList(), 0));
    }

    /// <summary>A new empty index for this embedder's vectors, its paths relative to <paramref name="root"/>.</summary>
    public ImageIndex CreateIndex(string? root, VectorStorage storage = VectorStorage.Float32) =>
        ImageIndex.Create(Dimension, Info(root), storage);

    /// <summary>What an index built by this embedder records about it.</summary>
    public ImageIndexInfo Info(string? root) =>
        new(Model.Identity, Layer, Model.File, Model.FileSha256(), root is null ? null : Path.GetFullPath(root));

    /// <summary>
    /// Embeds the image files <paramref name="files"/> (paths relative to <paramref name="root"/>) in batches of
    /// <paramref name="batchSize"/>, decoding each batch's files in parallel, and appends them to
    /// <paramref name="index"/>; <paramref name="progress"/> gets (done, total) after each batch.
    /// </summary>
    public void AddFiles(ImageIndex index, string root, IReadOnlyList<string> files, int batchSize = 64, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(index);
        ArgumentNullException.ThrowIfNull(files);
        if (index.Dimension != Dimension || index.Info.Layer != Layer || index.Info.Model != Model.Identity)
            throw new ArgumentException($"the index holds {index.Dimension}-element vectors of {index.Info.Model} layer '{index.Info.Layer}'; " +
                $"this embedder makes {Dimension}-element vectors of {Model.Identity} layer '{Layer}'");
        int done = 0;
        foreach (var pictures in Model.Pictures(files.Select(f => Path.Combine(root, f)).ToList(), batchSize))
        {
            int n = pictures.Size(0);
            index.Add(Embed(pictures), files.Skip(done).Take(n).ToList());
            done += n;
            progress?.Invoke(done, files.Count);
        }
    }

    /// <summary>
    /// The input of <paramref name="model"/>'s last linear layer, named by the module that produced it: of the modules
    /// without children that run in one forward pass, the last before that linear layer (skipping dropout, which
    /// is the identity at evaluation). A model without a linear layer gives its last top-level stage.
    /// </summary>
    public static string DefaultLayer(InspectedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var order = new List<(string Name, Module Module)>();
        var handles = new List<RemovableHandle>();
        try
        {
            foreach (var (name, m) in model.Model.NamedModules())
            {
                if (name.Length == 0 || m.NamedChildren().Any() || m is not Module<Tensor, Tensor> layer) continue;
                string n = name;
                handles.Add(layer.RegisterForwardHook((self, _, _) => order.Add((n, self))));
            }
            using (GradMode.Disable()) model.Model.Call(model.Normalize(Tensor.Zeros(1, model.Channels, model.InputSize, model.InputSize)));
        }
        finally
        {
            foreach (var h in handles) h.Remove();
        }
        int last = order.FindLastIndex(e => e.Module is Linear);
        for (int i = last - 1; i >= 0; i--)
            if (order[i].Module is not Dropout) return order[i].Name;
        // No classifier (a feature extractor, such as an imported network wrapped as one stage): its last stage.
        if (last < 0 && model.Model.NamedChildren().LastOrDefault(c => c.Module is Module<Tensor, Tensor>) is { Name: { } stage })
            return stage;
        throw new ArgumentException($"{model.Model.Describe()} has no layer before a last linear layer; name one (valid layers: {string.Join(", ", FeatureExtractor.ValidNames(model.Model))})");
    }
}
