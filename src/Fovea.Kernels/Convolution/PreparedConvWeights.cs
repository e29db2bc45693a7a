using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Fovea.Kernels;

/// <summary>
/// The weights of one float32 convolution in the layouts its forward kernels read, built on first use and kept for
/// the following calls: the implicit GEMM's packed A operand (per group and K block, MR rows at a time), Wᵀ in NR-column
/// slivers for layers with few output pixels (<see cref="PixelRowGemmConv{TKernel}"/>) and Winograd's transformed kernel
/// U = G g Gᵀ (per ξ, MR output channels at a time; or F(2x2, 3x3)'s, <see cref="WinogradF2Conv"/>). A layer run at batch 1 and at batch 16 may keep two of them. Repacking on every call costs a
/// pass over all the weights (47 MB for a ResNet-18 at batch 1, where the convolutions themselves read each weight
/// only a few times), and the kernel transform is what kept Winograd from small batches.
/// <para>
/// The object holds no reference to the weights it was built from: the caller passes the same weight buffer to
/// forward (<see cref="Conv2dKernels"/>' Forward with a prepared argument)
/// and builds a new object when the weights change (Fovea's CPU backend keys it by the weight storage's version).
/// It is safe to use from several threads at once.
/// </para>
/// </summary>
public sealed unsafe class PreparedConvWeights
{
    private readonly object _gate = new();
    private Prepared? _gemmA;
    private Prepared? _winogradU;
    private Prepared? _gemmWT;
    private Prepared? _winogradF2U;

    /// <summary>Prepared forms for a weight of <c>[outChannels, groupInChannels, kernelH, kernelW]</c> in <paramref name="groups"/> groups.</summary>
    public PreparedConvWeights(int outChannels, int groupInChannels, int kernelH, int kernelW, int groups)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(outChannels);
        ArgumentOutOfRangeException.ThrowIfNegative(groupInChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelH);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(kernelW);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        if (outChannels % groups != 0)
            throw new ArgumentException($"{outChannels} output channels do not split into {groups} groups", nameof(groups));
        (OutChannels, GroupInChannels, KernelH, KernelW, Groups) = (outChannels, groupInChannels, kernelH, kernelW, groups);
    }

    /// <summary>Output channels of the weight.</summary>
    public int OutChannels { get; }

    /// <summary>Input channels per group.</summary>
    public int GroupInChannels { get; }

    /// <summary>Kernel rows.</summary>
    public int KernelH { get; }

    /// <summary>Kernel columns.</summary>
    public int KernelW { get; }

    /// <summary>Channel groups.</summary>
    public int Groups { get; }

    /// <summary>Bytes held by the forms built so far.</summary>
    public long Bytes
    {
        get
        {
            lock (_gate) return 4L * ((_gemmA?.Array.Length ?? 0) + (_winogradU?.Array.Length ?? 0) + (_gemmWT?.Array.Length ?? 0) + (_winogradF2U?.Array.Length ?? 0));
        }
    }

    /// <summary>True when these are the weights of convolution <paramref name="s"/>.</summary>
    public bool Matches(in ConvShape s) =>
        s.OutChannels == OutChannels && s.GroupIn == GroupInChannels && s.Window.KernelH == KernelH && s.Window.KernelW == KernelW && s.Groups == Groups;

    /// <summary>
    /// The implicit GEMM's packed weights for a register tile of <paramref name="mr"/> rows and K blocks of
    /// <paramref name="kc"/>: per group, per K block, <c>RoundUp(gout, mr) x kcb</c> (the layout
    /// <see cref="GemmPacking.PackA{T}"/> writes). Built from <paramref name="w"/> on first use.
    /// </summary>
    internal float* GemmA(in ConvShape s, float* w, int mr, int kc) =>
        GetOrBuild(ref _gemmA, s, w, mr, kc, (long)s.Groups * ((s.GroupOut + mr - 1) / mr * mr) * s.ColRows, &PackGemmA);

    /// <summary>Packs the weights <paramref name="w"/> of <paramref name="s"/> as the implicit GEMM's A operand (see <see cref="GemmA"/>).</summary>
    internal static void PackGemmA(in ConvShape s, float* w, int mr, int kc, float* dst) => PackGemmA<float>(s, w, mr, kc, dst);

    /// <summary><see cref="PackGemmA(in ConvShape, float*, int, int, float*)"/> for any element type.</summary>
    internal static void PackGemmA<T>(in ConvShape s, T* w, int mr, int kc, T* dst) where T : unmanaged
    {
        int colRows = s.ColRows, gout = s.GroupOut, mPad = (gout + mr - 1) / mr * mr;
        long groupPacked = (long)mPad * colRows;
        for (int g = 0; g < s.Groups; g++)
            for (int p0 = 0; p0 < colRows; p0 += kc)
                GemmPacking.PackA(dst + g * groupPacked + (long)mPad * p0, w + (long)g * gout * colRows, colRows, false, 0, gout, p0, Math.Min(kc, colRows - p0), mr);
    }

    /// <summary>Wᵀ packed for <see cref="PixelRowGemmConv{TKernel}"/> with <typeparamref name="TKernel"/>'s NR, built from <paramref name="w"/> on first use.</summary>
    internal float* GemmWT<TKernel>(in ConvShape s, float* w)
        where TKernel : struct, IMicroKernel<float> =>
        GetOrBuild(ref _gemmWT, s, w, TKernel.NR, PixelRowGemmConv<TKernel>.BlockDepth(s.ColRows), PixelRowGemmConv<TKernel>.PackedLength(s), &PackGemmWT<TKernel>);

    /// <summary>Winograd's U for MR = <paramref name="mr"/> (see <see cref="WinogradConv"/>), built from <paramref name="w"/> on first use.</summary>
    internal float* WinogradU(in ConvShape s, float* w, int mr) =>
        GetOrBuild(ref _winogradU, s, w, mr, 0, WinogradConv.PackedKernelLength(s, mr), &PackWinogradU);

    /// <summary>
    /// The F(2x2, 3x3) transformed kernel for GEMM tiles <paramref name="nr"/> output channels wide (see
    /// <see cref="WinogradF2Conv"/>), built from <paramref name="w"/> on first use.
    /// </summary>
    internal float* WinogradF2U(in ConvShape s, float* w, int nr) =>
        GetOrBuild(ref _winogradF2U, s, w, nr, 0, WinogradF2Conv.PackedKernelLength(s, nr), &PackWinogradF2U);

    /// <summary>
    /// The form in <paramref name="slot"/> if it was built for this register tile (<paramref name="mr"/> rows, or NR
    /// columns for the Wᵀ forms, and K blocks of <paramref name="kc"/>; 0 where the form has none); otherwise
    /// <paramref name="floats"/> floats written by <paramref name="pack"/> from <paramref name="w"/>, once, under the
    /// lock, and published for the readers that take the lock-free path.
    /// </summary>
    private float* GetOrBuild(ref Prepared? slot, in ConvShape s, float* w, int mr, int kc, long floats,
        delegate*<in ConvShape, float*, int, int, float*, void> pack)
    {
        var p = Volatile.Read(ref slot);
        if (p is not null && p.Mr == mr && p.Kc == kc) return p.Pointer;
        lock (_gate)
        {
            p = slot;
            if (p is not null && p.Mr == mr && p.Kc == kc) return p.Pointer;
            p = new Prepared(floats, mr, kc);
            pack(s, w, mr, kc, p.Pointer);
            Volatile.Write(ref slot, p);
            return p.Pointer;
        }
    }

    private static void PackGemmWT<TKernel>(in ConvShape s, float* w, int nr, int kc, float* dst)
        where TKernel : struct, IMicroKernel<float> => PixelRowGemmConv<TKernel>.PackWeights(s, w, dst);

    private static void PackWinogradU(in ConvShape s, float* w, int mr, int kc, float* dst) => WinogradConv.PackKernels(s, w, flipped: false, mr, dst);

    private static void PackWinogradF2U(in ConvShape s, float* w, int nr, int kc, float* dst) => WinogradF2Conv.PackKernels(s, w, nr, dst);

    /// <summary>One prepared form: a pinned array (so its address holds) and its first 64-byte-aligned element.</summary>
    private sealed class Prepared
    {
        public readonly float[] Array;
        public readonly float* Pointer;
        public readonly int Mr, Kc; // Mr holds NR for the Wᵀ form

        public Prepared(long floats, int mr, int kc)
        {
            if (floats + 16 > System.Array.MaxLength)
                throw new OutOfMemoryException($"prepared convolution weights of {floats} floats exceed the largest array");
            Array = GC.AllocateUninitializedArray<float>((int)floats + 16, pinned: true);
            Pointer = (float*)(((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Array)) + 63) & ~(nint)63);
            (Mr, Kc) = (mr, kc);
        }
    }
}
