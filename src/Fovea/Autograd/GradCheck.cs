using System.Text;

namespace Fovea;

/// <summary>The outcome of a gradient check: per input, the worst element and both values.</summary>
public sealed record GradCheckResult(bool Passed, IReadOnlyList<GradCheckInputReport> Inputs)
{
    /// <summary>One line per input.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(Passed ? "gradcheck passed" : "gradcheck FAILED");
        foreach (var r in Inputs) sb.Append("\n  ").Append(r);
        return sb.ToString();
    }
}

/// <summary>For one input: the element where analytical and numerical derivatives differ most.</summary>
public sealed record GradCheckInputReport(int Input, bool Passed, int OutputIndex, int InputIndex, double Analytical, double Numerical, double AbsError)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"input {Input}: {(Passed ? "ok" : "MISMATCH")}, worst at d out[{OutputIndex}] / d in[{InputIndex}]: analytical {Analytical:G10}, numerical {Numerical:G10} (|diff| {AbsError:G3})";
}

/// <summary>
/// Numerical gradient checking in float64 (PyTorch's gradcheck and gradgradcheck): every analytical
/// Jacobian entry from reverse mode is compared with a central difference (f(x+eps) − f(x−eps)) / 2eps.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks the first derivatives of <paramref name="f"/> at <paramref name="inputs"/> (float64 tensors;
    /// only those with RequiresGrad are checked). An entry passes when |a − n| &lt;= atol + rtol·|n|.
    /// </summary>
    public static GradCheckResult Check(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3)
    {
        RequireFloat64("gradcheck", inputs);
        var xs = new Tensor[inputs.Length];
        for (int i = 0; i < inputs.Length; i++)
            xs[i] = inputs[i].Detach().RequiresGrad_(inputs[i].RequiresGrad); // same layout, so strided inputs stay strided
        // Analytical Jacobian rows: one vjp per output element.
        Tensor y = f(xs);
        if (y.DType != DType.Float64)
            throw new DTypeException("gradcheck", $"the function returned {y.DType.Name()}; it must return float64 so the check is meaningful");
        int m = y.Numel;
        var checkedInputs = Enumerable.Range(0, xs.Length).Where(i => xs[i].RequiresGrad).ToArray();
        var analytical = new double[xs.Length][,];
        foreach (int i in checkedInputs) analytical[i] = new double[m, xs[i].Numel];
        for (int o = 0; o < m; o++)
        {
            var e = Tensor.Zeros(y._shape, DType.Float64);
            e.SetFlat(o, 1);
            if (!y.RequiresGrad) break;
            var grads = Autograd.Grad([y], checkedInputs.Select(i => xs[i]).ToArray(), [e], retainGraph: true, allowUnused: true);
            for (int k = 0; k < checkedInputs.Length; k++)
            {
                if (grads[k] is not { } g) continue;
                var gd = g.Contiguous().AsSpan<double>();
                for (int j = 0; j < gd.Length; j++) analytical[checkedInputs[k]][o, j] = gd[j];
            }
        }
        // Numerical Jacobian columns: perturb one input element at a time.
        var reports = new List<GradCheckInputReport>();
        bool all = true;
        // Grad mode stays on: for gradgradcheck the function itself takes a gradient.
        {
            foreach (int i in checkedInputs)
            {
                var data = xs[i].Storage.As<double>();
                var worst = new GradCheckInputReport(i, true, 0, 0, 0, 0, 0);
                double worstExcess = double.NegativeInfinity;
                bool ok = true;
                for (int j = 0; j < xs[i].Numel; j++)
                {
                    int at = xs[i].StorageIndexOf(j);
                    double orig = data[at];
                    data[at] = orig + eps;
                    var plus = f(xs).Detach().To(DType.Float64).Contiguous().AsSpan<double>().ToArray();
                    data[at] = orig - eps;
                    var minus = f(xs).Detach().To(DType.Float64).Contiguous().AsSpan<double>().ToArray();
                    data[at] = orig;
                    for (int o = 0; o < m; o++)
                    {
                        double n = (plus[o] - minus[o]) / (2 * eps);
                        double a = analytical[i][o, j];
                        double err = Math.Abs(a - n);
                        double excess = err - (atol + rtol * Math.Abs(n));
                        bool pass = excess <= 0 || (double.IsNaN(a) && double.IsNaN(n));
                        ok &= pass;
                        if (excess > worstExcess || (!pass && worst.Passed))
                        {
                            worstExcess = excess;
                            worst = new GradCheckInputReport(i, pass, o, j, a, n, err);
                        }
                    }
                }
                reports.Add(worst with { Passed = ok });
                all &= ok;
            }
        }
        return new GradCheckResult(all, reports);
    }

    /// <summary>
    /// Checks second derivatives: gradcheck of x ↦ vᵀ·∂f/∂x (computed with createGraph) for a fixed random v,
    /// which is how PyTorch's gradgradcheck works.
    /// </summary>
    public static GradCheckResult GradGradCheck(Func<Tensor[], Tensor> f, Tensor[] inputs, double eps = 1e-6, double atol = 1e-5, double rtol = 1e-3, ulong seed = 1)
    {
        RequireFloat64("gradgradcheck", inputs);
        var checkedIdx = Enumerable.Range(0, inputs.Length).Where(i => inputs[i].RequiresGrad).ToArray();
        Tensor probe;
        using (GradMode.Disable()) probe = f(inputs.Select(t => t.Detach()).ToArray());
        var v = Tensor.Randn(probe._shape, new Generator(seed), DType.Float64);
        Tensor FirstDerivatives(Tensor[] xs)
        {
            var y = f(xs);
            if (!y.RequiresGrad) return Tensor.Zeros([0], DType.Float64);
            var grads = Autograd.Grad([y], checkedIdx.Select(i => xs[i]).ToArray(), [v], createGraph: true, allowUnused: true);
            var flat = new List<Tensor>();
            for (int k = 0; k < grads.Length; k++)
                flat.Add((grads[k] ?? Tensor.ZerosLike(xs[checkedIdx[k]])).Reshape(-1));
            return Tensor.Cat(flat);
        }
        return Check(FirstDerivatives, inputs, eps, atol, rtol);
    }

    /// <summary>Like <see cref="Check"/> but throws with the report when the check fails.</summary>
    public static void Assert(Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        var r = Check(f, inputs);
        if (!r.Passed) throw new InvalidOperationException(r.ToString());
    }

    private static void RequireFloat64(string op, Tensor[] inputs)
    {
        foreach (var t in inputs)
            if (t.RequiresGrad && t.DType != DType.Float64)
                throw new DTypeException(op, $"inputs must be float64, got {t.DType.Name()}: float32 central differences with eps 1e-6 lose about half their digits to rounding, so the comparison would be meaningless. Convert with .To(DType.Float64).");
    }
}
