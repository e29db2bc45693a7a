using Fovea.Kernels.Filtering;
using Fovea.Kernels.Tests.Support;

namespace Fovea.Kernels.Tests.Filtering;

/// <summary>PyrDown / PyrUp on planes large enough to split over threads give the same bits as on one thread.</summary>
[Collection("Global thread count")]
public class PyrParallelTests
{
    [Fact]
    public void ThreadedResultsEqualSerialOnes()
    {
        int w = 701, h = 1501; // ~1M pixels: several 256K-pixel tasks, odd sizes
        var src = TestData.Random(w * h, 5);
        int dw = PyrKernels.DownSize(w), dh = PyrKernels.DownSize(h);
        float[] Run(int threads, bool up)
        {
            int saved = Parallelism.MaxDegreeOfParallelism;
            try
            {
                Parallelism.MaxDegreeOfParallelism = threads;
                if (threads > 1) Assert.True(ParallelFor.ChunkCount(dh, (1 << 18) / (2 * w)) > 1, "the plane must be large enough to go parallel");
                if (!up)
                {
                    var d = new float[dw * dh];
                    PyrKernels.PyrDown(src, w, h, d);
                    return d;
                }
                var u = new float[(2 * dw - 1) * (2 * dh + 1)];
                PyrKernels.PyrUp(src.AsSpan(0, dw * dh), dw, dh, u, 2 * dw - 1, 2 * dh + 1);
                return u;
            }
            finally { Parallelism.MaxDegreeOfParallelism = saved; }
        }
        Assert.Equal(Run(1, false), Run(3, false));
        Assert.Equal(Run(1, true), Run(3, true));
    }
}
