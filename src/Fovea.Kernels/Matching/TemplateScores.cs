using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Fovea.Kernels.Simd;

namespace Fovea.Kernels.Matching;

/// <summary>
/// Turns a raw correlation map into the scores of a <see cref="TemplateScore"/>, in place. Per output row the column
/// sums of I and I² over the template height are kept in double (slid by one row at a time: add the new row, drop the old,
/// and summed afresh every 64 rows so the running update cannot drift), prefix-summed along x (a vector scan) so every
/// window sum is one difference, and the score formula then runs on four doubles per vector (NCC) with the flat-window
/// rule as a mask.
/// </summary>
internal static unsafe class TemplateScores
{
    /// <summary>10·FLT_EPSILON: below this relative variance a window is indistinguishable from flat in float data.</summary>
    public const double FlatWindowEpsilon = 10 * 1.1920928955078125e-7;

    public static void Normalise(float* image, int width, int tw, int th, float* result, int ow, int oh, TemplateScore method, double tSum2)
    {
        nint pi = (nint)image, pr = (nint)result;
        int grain = Math.Max(8, (1 << 16) / Math.Max(1, width));
        ParallelFor.ForBalanced(oh, grain, (y0, y1) =>
        {
            // Column sums (2 x width) and their prefix sums (2 x (width + 1)), padded for whole-vector loads.
            int stride = width + 8;
            double[] scratch = ArrayPool<double>.Shared.Rent(4 * stride);
            try
            {
                fixed (double* s = scratch)
                    Rows((float*)pi, width, tw, th, (float*)pr, ow, method, tSum2, s, s + stride, s + 2 * stride, s + 3 * stride, y0, y1);
            }
            finally
            {
                ArrayPool<double>.Shared.Return(scratch);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Rows(float* image, int width, int tw, int th, float* result, int ow, TemplateScore method, double tSum2,
        double* colSum, double* colSum2, double* pre, double* pre2, int y0, int y1)
    {
        double area = (double)tw * th;
        double tNorm = Math.Sqrt(tSum2);
        for (int y = y0; y < y1; y++)
        {
            if ((y - y0) % 64 == 0)
            {
                new Span<double>(colSum, width).Clear();
                new Span<double>(colSum2, width).Clear();
                for (int j = 0; j < th; j++) Slide(null, image + (long)(y + j) * width, colSum, colSum2, width);
            }
            else
            {
                Slide(image + (long)(y - 1) * width, image + (long)(y + th - 1) * width, colSum, colSum2, width);
            }
            // pre[x] = Σ_{i<x} colSum[i]: the window at x sums pre[x + tw] − pre[x].
            PrefixSums(colSum, colSum2, pre, pre2, width);
            float* r = result + (long)y * ow;
            int done = method == TemplateScore.CCoeffNormed && (SimdWidth.Use256 || SimdWidth.Use512) ? NccVector(r, ow, pre, pre2, tw, area, tNorm) : 0;
            // The map is normalised in place, so the overlapping-last-vector trick would read scores as correlations:
            // the remainder runs scalar.
            for (int x = done; x < ow; x++)
                r[x] = Score(method, r[x], pre[x + tw] - pre[x], pre2[x + tw] - pre2[x], area, tSum2, tNorm);
        }
    }

    // pre[0] = pre2[0] = 0, pre[x + 1] = Σ_{i≤x} colSum[i] (and pre2 of colSum2). The running sum is a chain of dependent adds
    // (4 cycles each); the vector form scans four columns in registers (two shifted adds) and puts only one add per four
    // columns on the chain: carry + scan, with the next carry = carry + the scan's last lane.
    private static void PrefixSums(double* colSum, double* colSum2, double* pre, double* pre2, int width)
    {
        pre[0] = 0;
        pre2[0] = 0;
        int x = 0;
        double a1 = 0, a2 = 0;
        if (SimdWidth.Use256 || SimdWidth.Use512)
        {
            Vector256<double> c1 = Vector256<double>.Zero, c2 = Vector256<double>.Zero;
            for (; x <= width - 4; x += 4)
            {
                var s1 = Scan4(Vector256.Load(colSum + x));
                var s2 = Scan4(Vector256.Load(colSum2 + x));
                (c1 + s1).Store(pre + x + 1);
                (c2 + s2).Store(pre2 + x + 1);
                c1 += Vector256.Shuffle(s1, Vector256.Create(3L));
                c2 += Vector256.Shuffle(s2, Vector256.Create(3L));
            }
            a1 = c1.GetElement(0);
            a2 = c2.GetElement(0);
        }
        for (; x < width; x++)
        {
            a1 += colSum[x];
            a2 += colSum2[x];
            pre[x + 1] = a1;
            pre2[x + 1] = a2;
        }
    }

    // Inclusive prefix sum of four lanes: [a, a + b, a + b + c, a + b + c + d].
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Scan4(Vector256<double> v)
    {
        var lane0 = Vector256.Create(0L, -1L, -1L, -1L).AsDouble();
        var low2 = Vector256.Create(0L, 0L, -1L, -1L).AsDouble();
        v += Vector256.Shuffle(v, Vector256.Create(0L, 0L, 1L, 2L)) & lane0;
        return v + (Vector256.Shuffle(v, Vector256.Create(0L, 0L, 0L, 1L)) & low2);
    }

    // colSum += new − old and colSum2 += new² − old² (old null: add only), four doubles at a time.
    private static void Slide(float* oldRow, float* newRow, double* colSum, double* colSum2, int width)
    {
        int x = 0;
        if (SimdWidth.Use256 || SimdWidth.Use512)
        {
            for (; x <= width - 8; x += 8)
            {
                var n = Vector256.Load(newRow + x);
                var nl = Vector256.WidenLower(n);
                var nu = Vector256.WidenUpper(n);
                Vector256<double> dl = nl, du = nu, ql = nl * nl, qu = nu * nu;
                if (oldRow != null)
                {
                    var o = Vector256.Load(oldRow + x);
                    var ol = Vector256.WidenLower(o);
                    var ou = Vector256.WidenUpper(o);
                    dl -= ol;
                    du -= ou;
                    ql -= ol * ol;
                    qu -= ou * ou;
                }
                (Vector256.Load(colSum + x) + dl).Store(colSum + x);
                (Vector256.Load(colSum + x + 4) + du).Store(colSum + x + 4);
                (Vector256.Load(colSum2 + x) + ql).Store(colSum2 + x);
                (Vector256.Load(colSum2 + x + 4) + qu).Store(colSum2 + x + 4);
            }
        }
        for (; x < width; x++)
        {
            double v = newRow[x];
            double d = v, q = v * v;
            if (oldRow != null)
            {
                double o = oldRow[x];
                d -= o;
                q -= o * o;
            }
            colSum[x] += d;
            colSum2[x] += q;
        }
    }

    // NCC over whole vectors of 8 outputs (two halves of four doubles); returns how many outputs it wrote.
    private static int NccVector(float* r, int ow, double* pre, double* pre2, int tw, double area, double tNorm)
    {
        var inv = Vector256.Create(1 / area);
        var eps = Vector256.Create(FlatWindowEpsilon);
        var half = Vector256.Create(0.5);
        var norm = Vector256.Create(tNorm);
        var one = Vector256.Create(1.0);
        int x = 0;
        for (; x <= ow - 8; x += 8)
        {
            var corr = Vector256.Load(r + x);
            var lo = Ncc(Vector256.WidenLower(corr), pre + x, pre2 + x, tw, inv, eps, half, norm, one);
            var hi = Ncc(Vector256.WidenUpper(corr), pre + x + 4, pre2 + x + 4, tw, inv, eps, half, norm, one);
            Vector256.Narrow(lo, hi).Store(r + x);
        }
        return x;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<double> Ncc(Vector256<double> corr, double* pre, double* pre2, int tw,
        Vector256<double> inv, Vector256<double> eps, Vector256<double> half, Vector256<double> norm, Vector256<double> one)
    {
        var s1 = Vector256.Load(pre + tw) - Vector256.Load(pre);
        var s2 = Vector256.Load(pre2 + tw) - Vector256.Load(pre2);
        // Σ I'² = Σ I² − (Σ I)²/n; flat when ≤ min(0.5, 10·FLT_EPSILON·Σ I²), exactly as the scalar Score.
        var var = s2 - s1 * s1 * inv;
        var flat = Vector256.LessThanOrEqual(var, Vector256.Min(half, eps * s2));
        var q = corr / (Vector256.Sqrt(Vector256.Max(var, Vector256<double>.Zero)) * norm);
        q = Vector256.Min(Vector256.Max(q, -one), one);
        return Vector256.ConditionalSelect(flat, Vector256<double>.Zero, q);
    }

    // s1 = Σ I, s2 = Σ I² over the window; corr = Σ T·I (Σ T'·I for the CCOEFF methods).
    public static float Score(TemplateScore method, double corr, double s1, double s2, double area, double tSum2, double tNorm)
    {
        switch (method)
        {
            case TemplateScore.SqDiff:
                return (float)Math.Max(s2 - 2 * corr + tSum2, 0);
            case TemplateScore.SqDiffNormed:
            {
                double num = Math.Max(s2 - 2 * corr + tSum2, 0);
                double den = Math.Sqrt(Math.Max(s2, 0)) * tNorm;
                return den > 0 ? (float)Math.Min(num / den, 1) : 1f;
            }
            case TemplateScore.CCorrNormed:
            {
                double den = Math.Sqrt(Math.Max(s2, 0)) * tNorm;
                return den > 0 ? (float)Math.Clamp(corr / den, -1, 1) : 0f;
            }
            default: // CCoeffNormed
            {
                // A window whose variance is within float rounding of its energy is flat (OpenCV's test:
                // ≤ min(0.5, 10·FLT_EPSILON·Σ I²)), and so is a template with no variance.
                double var = s2 - s1 * s1 / area;
                if (var <= Math.Min(0.5, FlatWindowEpsilon * s2)) return 0f;
                double den = Math.Sqrt(var) * tNorm;
                return (float)Math.Clamp(corr / den, -1, 1);
            }
        }
    }
}
