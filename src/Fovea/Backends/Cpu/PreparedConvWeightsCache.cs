using System.Runtime.CompilerServices;
using Fovea.Kernels;

namespace Fovea.Backends.Cpu;

/// <summary>
/// The prepared forms of constant float32 convolution weights (<see cref="PreparedConvWeights"/>: packed GEMM panels,
/// Winograd's transformed kernel), kept between forwards so that inference does not repack every weight on every call.
/// <para>
/// One entry per weight storage, held weakly (<see cref="ConditionalWeakTable{TKey, TValue}"/>): it goes when the
/// weight goes, so the cache never holds more than one prepared copy of each live weight. An entry is used only while
/// the storage's <see cref="Storage.Version"/>, the view's offset and shape and the group count are those it was built
/// for; any in-place write through a tensor (an optimizer step, <c>LoadStateDict</c>, <c>CopyFrom</c>, an in-place
/// op) bumps the version, and the next forward builds a fresh entry. (Writes through <see cref="Tensor.AsSpan{T}"/>
/// bypass versioning, as they bypass autograd's checks.) Folded batch-norm weights are cached tensors themselves, so
/// their entries last as long as the fold does.
/// </para>
/// </summary>
internal static class PreparedConvWeightsCache
{
    private static readonly ConditionalWeakTable<Storage, Entry> Entries = new();

    /// <summary>The prepared forms of the contiguous float32 weight <paramref name="w"/> as it is now.</summary>
    public static PreparedConvWeights For(Tensor w, Conv2dGeometry geometry)
    {
        var storage = w.Storage;
        int version = storage.Version;
        if (Entries.TryGetValue(storage, out var e) && e.Matches(w, version, geometry.Groups))
            return e.Prepared;
        var shape = w._shape;
        var fresh = new Entry(w.Offset, (int[])shape.Clone(), geometry.Groups, version,
            new PreparedConvWeights(shape[0], shape[1], shape[2], shape[3], geometry.Groups));
        Entries.AddOrUpdate(storage, fresh);
        return fresh.Prepared;
    }

    /// <summary>True when the weight <paramref name="w"/> has a prepared entry for its current contents (for tests).</summary>
    internal static bool IsPrepared(Tensor w, int groups = 1) =>
        Entries.TryGetValue(w.Storage, out var e) && e.Matches(w, w.Storage.Version, groups);

    private sealed record Entry(int Offset, int[] Shape, int Groups, int Version, PreparedConvWeights Prepared)
    {
        public bool Matches(Tensor w, int version, int groups) =>
            Version == version && Offset == w.Offset && Groups == groups && Shape.AsSpan().SequenceEqual(w._shape);
    }
}
