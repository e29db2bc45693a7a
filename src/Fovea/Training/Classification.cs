namespace Fovea.Training;

/// <summary>Arg-max predictions and correct counts of classifier outputs.</summary>
public static class Classification
{
    /// <summary>The arg-max class of each row of <paramref name="logits"/> [N, K] (the first of equal maxima).</summary>
    public static int[] Predictions(Tensor logits)
    {
        if (logits.Rank != 2) throw new ShapeException("Predictions", $"expected logits [N, K], got {ShapeChecks.Format(logits.Shape)}");
        int n = logits.Size(0), k = logits.Size(1);
        var v = logits.Detach().To(DType.Float64).Contiguous().ToArray<double>();
        var pred = new int[n];
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < k; j++) if (v[i * k + j] > v[i * k + best]) best = j;
            pred[i] = best;
        }
        return pred;
    }

    /// <summary>How many rows of <paramref name="logits"/> [N, K] have their maximum at the class index in <paramref name="targets"/> [N].</summary>
    public static int Correct(Tensor logits, Tensor targets)
    {
        var pred = Predictions(logits);
        var y = targets.To(DType.Int32).Contiguous().ToArray<int>();
        if (y.Length != pred.Length) throw new ShapeException("Correct", $"{pred.Length} predictions but {y.Length} targets");
        int c = 0;
        for (int i = 0; i < pred.Length; i++) if (pred[i] == y[i]) c++;
        return c;
    }

    /// <summary>
    /// <see cref="Correct"/> when <paramref name="output"/> is [N, K] and <paramref name="targets"/> are integer class
    /// indices [N]; null otherwise (a regression, one-hot or probability targets): no accuracy to count.
    /// </summary>
    public static long? CorrectIfClassification(Tensor output, Tensor targets) =>
        output.Rank == 2 && targets.Rank == 1 && targets.DType == DType.Int32 && targets.Size(0) == output.Size(0) ? Correct(output, targets) : null;

    /// <summary>
    /// One-hot rows [N, <paramref name="classes"/>] of <paramref name="dtype"/> for class indices [N]: 1 at the class,
    /// 0 elsewhere (the targets of a squared-error classifier).
    /// </summary>
    public static Tensor OneHot(Tensor targets, int classes, DType dtype = DType.Float32)
    {
        if (targets.Rank != 1) throw new ShapeException("OneHot", $"expected class indices [N], got {ShapeChecks.Format(targets.Shape)}");
        var y = targets.To(DType.Int32).Contiguous().ToArray<int>();
        var v = new double[y.Length * classes];
        for (int i = 0; i < y.Length; i++)
        {
            if ((uint)y[i] >= (uint)classes) throw new ArgumentException($"OneHot: target {y[i]} of sample {i} is not a class index below {classes}");
            v[i * classes + y[i]] = 1;
        }
        return Tensor.FromArray(v, y.Length, classes).To(dtype);
    }
}
