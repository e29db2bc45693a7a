using Fovea.NN;
using Fovea.Vision.Imaging;
using Fovea.Vision.Models;
using Fovea.Vision.Retrieval;

namespace Fovea.Vision.Inspection;

/// <summary>
/// Where a layer's output looks in the input: output (y, x) depends on the input square of side
/// <see cref="Size"/> centred at (<see cref="Start"/> + y·<see cref="Jump"/>, <see cref="Start"/> + x·<see cref="Jump"/>),
/// in input pixel coordinates (pixel centres at whole numbers). <see cref="Global"/>: every output sees the whole input.
/// </summary>
/// <param name="Size">Side of the field, in input pixels.</param>
/// <param name="Jump">Input distance between neighbouring outputs.</param>
/// <param name="Start">Input coordinate of the centre of output 0.</param>
/// <param name="Global">True after a layer that mixes all positions (a linear layer).</param>
public sealed record ReceptiveField(int Size, int Jump, double Start, bool Global)
{
    /// <summary>
    /// The receptive field of <paramref name="layer"/>'s output, following the chain of a <see cref="Sequential"/>
    /// model: a window layer (<see cref="IReceptiveField"/>: kernel k, stride s, padding p, dilation d) maps
    /// (r, j, start) to (r + d(k − 1)·j, j·s, start + (d(k − 1)/2 − p)·j) (Araujo, Norris and Sim 2019, eq. 1–2 and
    /// their start offset); a residual block follows its main path (the shortcut's field is inside it); a linear layer
    /// makes it global. Null when the chain passes a block whose field this cannot follow (an inception module).
    /// </summary>
    public static ReceptiveField? Of(Module<Tensor, Tensor> model, string layer)
    {
        ArgumentNullException.ThrowIfNull(model);
        FeatureExtractor.Find(model, layer);
        var state = new ReceptiveField(1, 1, 0, false);
        bool known = true;
        return Walk(model, "", layer, ref state, ref known) && known ? state : null;
    }

    // Follows the children of a sequential module in order; true once 'layer' has been passed.
    private static bool Walk(Module seq, string prefix, string layer, ref ReceptiveField state, ref bool known)
    {
        foreach (var (name, child) in seq.NamedChildren())
        {
            string full = prefix.Length == 0 ? name : prefix + "." + name;
            bool inside = layer.StartsWith(full + ".", StringComparison.Ordinal);
            if (child is Sequential)
            {
                if (Walk(child, full, layer, ref state, ref known)) return true;
            }
            else if (child is ResidualBlock)
            {
                // The main path: every window layer of the block except the shortcut's, in registration order.
                foreach (var (n, m) in child.NamedModules())
                {
                    if (n.StartsWith("downsample", StringComparison.Ordinal) || n.StartsWith("shortcut", StringComparison.Ordinal)) continue;
                    state = Advance(m, state);
                    if (inside && full + "." + n == layer) return true;
                }
            }
            else if (inside || child.NamedChildren().Any())
            {
                known = false;
                if (inside) return true;
            }
            else
            {
                state = Advance(child, state);
            }
            if (full == layer) return true;
        }
        return false;
    }

    private static ReceptiveField Advance(Module layer, ReceptiveField s)
    {
        if (s.Global) return s;
        return layer switch
        {
            IReceptiveField rf => new ReceptiveField(s.Size + rf.Dilation * (rf.Kernel - 1) * s.Jump, s.Jump * rf.Stride,
                s.Start + (rf.Dilation * (rf.Kernel - 1) / 2.0 - rf.Padding) * s.Jump, false),
            Linear => s with { Global = true },
            _ => s,
        };
    }
}

/// <summary>One image that excites a unit strongly (see <see cref="TopImages.Find"/>).</summary>
/// <param name="Index">The image's position in the sequence searched.</param>
/// <param name="Activation">The unit's largest activation over the image's positions.</param>
/// <param name="Y">Row of that position in the layer's output.</param>
/// <param name="X">Column of that position.</param>
/// <param name="Patch">The picture cropped to the receptive field of that position, [C, r, r] (outside the picture: gray 0.5).</param>
public sealed record TopImage(int Index, float Activation, int Y, int X, Tensor Patch);

/// <summary>
/// The images of a data set that excite one unit (a channel of a layer) the most, each cropped to the receptive field
/// of the position where the unit responds most — Zeiler and Fergus 2014's and the lecture notes' way of asking what
/// a unit detects.
/// </summary>
public static class TopImages
{
    /// <summary>
    /// Runs <paramref name="model"/> over <paramref name="pictures"/> (batches [B, C, S, S] in [0, 1]) and keeps the
    /// <paramref name="top"/> images whose largest activation of channel <paramref name="channel"/> of
    /// <paramref name="layer"/> is highest (ties to the earlier image). A layer with vector output [B, F] treats each
    /// feature as a unit whose field is the whole picture.
    /// </summary>
    public static IReadOnlyList<TopImage> Find(InspectedModel model, IEnumerable<Tensor> pictures, string layer, int channel, int top)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(pictures);
        if (top < 1) throw new ArgumentOutOfRangeException(nameof(top), top, "top must be at least 1");
        var field = ReceptiveField.Of(model.Model, layer);
        var heap = new TopK(top);
        var kept = new Dictionary<long, TopImage>();
        int index = 0;
        using var extractor = new FeatureExtractor(model.Model, layer);
        foreach (var batch in pictures)
        {
            Tensor maps;
            using (GradMode.Disable()) maps = extractor.Extract(model.Normalize(batch))[layer];
            if (maps.Rank is not (2 or 4))
                throw new ArgumentException($"layer '{layer}' gives {ShapeChecks.Format(maps.Shape)}; a unit needs maps [N, C, H, W] or features [N, F]");
            if (channel < 0 || channel >= maps.Size(1))
                throw new ArgumentOutOfRangeException(nameof(channel), channel, $"layer '{layer}' has channels 0 to {maps.Size(1) - 1}");
            var unit = maps.Select(1, channel).To(DType.Float32).Contiguous();
            int h = maps.Rank == 4 ? maps.Size(2) : 1, w = maps.Rank == 4 ? maps.Size(3) : 1;
            var values = unit.ToArray<float>();
            for (int b = 0; b < batch.Size(0); b++, index++)
            {
                int best = 0;
                for (int i = 1; i < h * w; i++) if (values[b * h * w + i] > values[b * h * w + best]) best = i;
                float v = values[b * h * w + best];
                if (v < heap.Threshold) continue;
                heap.Offer(v, index);
                kept[index] = new TopImage(index, v, best / w, best % w, Crop(batch.Select(0, b), field, best / w, best % w));
            }
            var members = heap.Sorted().Select(p => p.Row).ToHashSet();
            foreach (var key in kept.Keys.Where(k => !members.Contains(k)).ToList()) kept.Remove(key);
        }
        return heap.Sorted().Select(p => kept[p.Row]).ToList();
    }

    /// <summary>The receptive field of output (y, x) cut from <paramref name="picture"/> [C, S, S]; the whole picture when the field is global or unknown.</summary>
    public static Tensor Crop(Tensor picture, ReceptiveField? field, int y, int x)
    {
        ArgumentNullException.ThrowIfNull(picture);
        int c = picture.Size(0), height = picture.Size(1), width = picture.Size(2);
        if (field is null || field.Global || field.Size >= Math.Max(height, width) * 2) return picture.Contiguous().Clone();
        int r = field.Size;
        int top = (int)Math.Round(field.Start + y * field.Jump - (r - 1) / 2.0), left = (int)Math.Round(field.Start + x * field.Jump - (r - 1) / 2.0);
        var src = picture.To(DType.Float32).Contiguous().ToArray<float>();
        var dst = new float[c * r * r];
        Array.Fill(dst, 0.5f);
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < r; i++)
            {
                int sy = top + i;
                if (sy < 0 || sy >= height) continue;
                for (int j = 0; j < r; j++)
                {
                    int sx = left + j;
                    if (sx >= 0 && sx < width) dst[(ch * r + i) * r + j] = src[(ch * height + sy) * width + sx];
                }
            }
        return Tensor.FromArray(dst, c, r, r);
    }

    /// <summary>The patches as a grid, best first, row by row.</summary>
    public static ImagePlanes Render(IReadOnlyList<TopImage> images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("no images to show", nameof(images));
        return InspectionImages.Grid(images.Select(i => i.Patch).ToList(), LayerImages.Columns(images.Count), InspectionImages.ScaleFor(images[0].Patch.Size(-1)));
    }
}
