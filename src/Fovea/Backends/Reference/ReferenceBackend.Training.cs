namespace Fovea.Backends.Reference;

/// <summary>
/// Batch normalisation, the optimizer updates and the random fills as the formulas read, element by element in
/// float64 (each result rounded to the tensor's dtype once, when it is stored).
/// </summary>
internal sealed partial class ReferenceBackend
{
    public (Tensor Output, Tensor Mean, Tensor Var) BatchNormForward(Tensor x, Tensor weight, Tensor bias, double eps)
    {
        var (n, c, s) = TrainingChecks.ChannelDims(x._shape);
        var v = ReadAll(x);
        var gamma = ReadAll(weight);
        var beta = ReadAll(bias);
        var mean = new double[c];
        var variance = new double[c];
        double m = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double sum = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++) sum += v[(i * c + ch) * s + k];
            double mu = sum / m;
            double sq = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    double d = v[(i * c + ch) * s + k] - mu;
                    sq += d * d;
                }
            mean[ch] = mu;
            variance[ch] = sq / m;
            double sigma = Math.Sqrt(variance[ch] + eps);
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int at = (i * c + ch) * s + k;
                    v[at] = (v[at] - mu) / sigma * gamma[ch] + beta[ch];
                }
        }
        return (Write(v, x.Shape, x.DType), Tensor.FromArray(mean, c), Tensor.FromArray(variance, c));
    }

    public (Tensor GradInput, Tensor GradWeight, Tensor GradBias) BatchNormBackward(Tensor gradOutput, Tensor x, Tensor weight, Tensor mean, Tensor var, double eps)
    {
        var (n, c, s) = TrainingChecks.ChannelDims(x._shape);
        var xv = ReadAll(x);
        var g = ReadAll(gradOutput);
        var gamma = ReadAll(weight);
        var mu = ReadAll(mean);
        var sigma2 = ReadAll(var);
        var dx = new double[xv.Length];
        var dw = new double[c];
        var db = new double[c];
        double m = (double)n * s;
        for (int ch = 0; ch < c; ch++)
        {
            double inv = 1 / Math.Sqrt(sigma2[ch] + eps);
            double sumG = 0, sumGXHat = 0;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int at = (i * c + ch) * s + k;
                    sumG += g[at];
                    sumGXHat += g[at] * (xv[at] - mu[ch]) * inv;
                }
            db[ch] = sumG;
            dw[ch] = sumGXHat;
            for (int i = 0; i < n; i++)
                for (int k = 0; k < s; k++)
                {
                    int at = (i * c + ch) * s + k;
                    double xHat = (xv[at] - mu[ch]) * inv;
                    dx[at] = gamma[ch] * inv * (g[at] - sumG / m - xHat * sumGXHat / m);
                }
        }
        return (Write(dx, x.Shape, x.DType), Write(dw, [c], x.DType), Write(db, [c], x.DType));
    }

    public (Tensor Output, Tensor Mean, Tensor InvStd) LayerNormForward(Tensor x, int normalized, Tensor? weight, Tensor? bias, double eps)
    {
        int rows = TrainingChecks.LayerNorm(x, normalized, weight, bias), d = normalized;
        var v = ReadAll(x);
        var gamma = weight is null ? null : ReadAll(weight);
        var beta = bias is null ? null : ReadAll(bias);
        var mean = new double[rows];
        var invStd = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double sum = 0;
            for (int j = 0; j < d; j++) sum += v[r * d + j];
            double mu = sum / d, sq = 0;
            for (int j = 0; j < d; j++) sq += (v[r * d + j] - mu) * (v[r * d + j] - mu);
            double inv = 1 / Math.Sqrt(sq / d + eps);
            for (int j = 0; j < d; j++)
                v[r * d + j] = (v[r * d + j] - mu) * inv * (gamma?[j] ?? 1) + (beta?[j] ?? 0);
            (mean[r], invStd[r]) = (mu, inv);
        }
        return (Write(v, x.Shape, x.DType), Tensor.FromArray(mean, rows), Tensor.FromArray(invStd, rows));
    }

    public (Tensor GradInput, Tensor GradWeight, Tensor GradBias) LayerNormBackward(Tensor gradOutput, Tensor x, int normalized, Tensor? weight, Tensor mean, Tensor invStd)
    {
        int rows = TrainingChecks.LayerNorm(x, normalized, weight, null, gradOutput), d = normalized;
        var xv = ReadAll(x);
        var g = ReadAll(gradOutput);
        var gamma = weight is null ? null : ReadAll(weight);
        var mu = ReadAll(mean);
        var inv = ReadAll(invStd);
        var dx = new double[xv.Length];
        var dw = new double[d];
        var db = new double[d];
        for (int r = 0; r < rows; r++)
        {
            double sumG = 0, sumGXHat = 0;
            for (int j = 0; j < d; j++)
            {
                double xHat = (xv[r * d + j] - mu[r]) * inv[r], gHat = g[r * d + j] * (gamma?[j] ?? 1);
                sumG += gHat;
                sumGXHat += gHat * xHat;
                dw[j] += g[r * d + j] * xHat;
                db[j] += g[r * d + j];
            }
            for (int j = 0; j < d; j++)
            {
                double xHat = (xv[r * d + j] - mu[r]) * inv[r], gHat = g[r * d + j] * (gamma?[j] ?? 1);
                dx[r * d + j] = inv[r] * (gHat - sumG / d - xHat * sumGXHat / d);
            }
        }
        return (Write(dx, x.Shape, x.DType), Write(dw, [d], x.DType), Write(db, [d], x.DType));
    }

    public (Tensor Output, Tensor Denominator) LocalResponseNormForward(Tensor x, int size, double alpha, double beta, double k)
    {
        var (n, c, s) = TrainingChecks.LocalResponseNorm(x, size);
        var v = ReadAll(x);
        var y = new double[v.Length];
        var d = new double[v.Length];
        int before = size / 2, after = (size - 1) / 2;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < s; p++)
                {
                    double sum = 0;
                    for (int cc = Math.Max(0, ch - before); cc <= Math.Min(c - 1, ch + after); cc++) sum += v[(i * c + cc) * s + p] * v[(i * c + cc) * s + p];
                    int at = (i * c + ch) * s + p;
                    d[at] = k + alpha / size * sum;
                    y[at] = v[at] * Math.Pow(d[at], -beta);
                }
        return (Write(y, x.Shape, x.DType), Write(d, x.Shape, x.DType));
    }

    public Tensor LocalResponseNormBackward(Tensor gradOutput, Tensor x, Tensor denominator, int size, double alpha, double beta)
    {
        var (n, c, s) = TrainingChecks.LocalResponseNorm(x, size, denominator, gradOutput);
        var v = ReadAll(x);
        var d = ReadAll(denominator);
        var g = ReadAll(gradOutput);
        var t = new double[v.Length];
        for (int at = 0; at < v.Length; at++) t[at] = -beta * alpha / size * g[at] * v[at] * Math.Pow(d[at], -beta - 1);
        var dx = new double[v.Length];
        int before = size / 2, after = (size - 1) / 2;
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < s; p++)
                {
                    double sum = 0;
                    for (int cc = Math.Max(0, ch - after); cc <= Math.Min(c - 1, ch + before); cc++) sum += t[(i * c + cc) * s + p];
                    int at = (i * c + ch) * s + p;
                    dx[at] = g[at] * Math.Pow(d[at], -beta) + 2 * v[at] * sum;
                }
        return Write(dx, x.Shape, x.DType);
    }

    public void SgdUpdate(Tensor param, Tensor grad, Tensor? momentumBuffer, SgdStep step)
    {
        TrainingChecks.Update("sgd", param, grad, momentumBuffer);
        TrainingChecks.State("sgd", "momentum buffer", step.Momentum != 0, momentumBuffer);
        var p = ReadAll(param);
        var g = ReadAll(grad);
        var b = momentumBuffer is null ? null : ReadAll(momentumBuffer);
        for (int i = 0; i < p.Length; i++)
        {
            double d = step.Maximize ? -g[i] : g[i];
            if (step.WeightDecay != 0) d += step.WeightDecay * p[i];
            if (step.Momentum != 0)
            {
                b![i] = step.FirstStep ? d : step.Momentum * b[i] + (1 - step.Dampening) * d;
                d = step.Nesterov ? d + step.Momentum * b[i] : b[i];
            }
            p[i] -= step.Lr * d;
        }
        Store(param, p);
        if (step.Momentum != 0) Store(momentumBuffer!, b!);
    }

    public void AdamUpdate(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, Tensor? maxExpAvgSq, AdamStep step)
    {
        TrainingChecks.Update("adam", param, grad, expAvg, expAvgSq, maxExpAvgSq);
        TrainingChecks.State("adam", "max_exp_avg_sq buffer", step.Amsgrad, maxExpAvgSq);
        var p = ReadAll(param);
        var g = ReadAll(grad);
        var m = ReadAll(expAvg);
        var v = ReadAll(expAvgSq);
        var vMax = step.Amsgrad ? ReadAll(maxExpAvgSq!) : null;
        double bc1 = 1 - Math.Pow(step.Beta1, step.Step);
        double bc2 = 1 - Math.Pow(step.Beta2, step.Step);
        for (int i = 0; i < p.Length; i++)
        {
            double gi = step.Maximize ? -g[i] : g[i];
            if (step.Decoupled) p[i] *= 1 - step.Lr * step.WeightDecay;
            else if (step.WeightDecay != 0) gi += step.WeightDecay * p[i];
            m[i] = step.Beta1 * m[i] + (1 - step.Beta1) * gi;
            v[i] = step.Beta2 * v[i] + (1 - step.Beta2) * gi * gi;
            double second = v[i];
            if (vMax is not null) second = vMax[i] = Math.Max(vMax[i], v[i]);
            double denom = Math.Sqrt(second) / Math.Sqrt(bc2) + step.Eps;
            p[i] -= step.Lr / bc1 * m[i] / denom;
        }
        Store(param, p);
        Store(expAvg, m);
        Store(expAvgSq, v);
        if (vMax is not null) Store(maxExpAvgSq!, vMax);
    }

    public void RMSpropUpdate(Tensor param, Tensor grad, Tensor squareAvg, Tensor? gradAvg, Tensor? momentumBuffer, RMSpropStep step)
    {
        TrainingChecks.Update("rmsprop", param, grad, squareAvg, gradAvg, momentumBuffer);
        TrainingChecks.State("rmsprop", "grad_avg buffer", step.Centered, gradAvg);
        TrainingChecks.State("rmsprop", "momentum buffer", step.Momentum > 0, momentumBuffer);
        var p = ReadAll(param);
        var g = ReadAll(grad);
        var sq = ReadAll(squareAvg);
        var gAvg = step.Centered ? ReadAll(gradAvg!) : null;
        var b = step.Momentum > 0 ? ReadAll(momentumBuffer!) : null;
        for (int i = 0; i < p.Length; i++)
        {
            double gi = step.Maximize ? -g[i] : g[i];
            if (step.WeightDecay != 0) gi += step.WeightDecay * p[i];
            sq[i] = step.Alpha * sq[i] + (1 - step.Alpha) * gi * gi;
            double avg;
            if (gAvg is not null)
            {
                gAvg[i] = step.Alpha * gAvg[i] + (1 - step.Alpha) * gi;
                avg = Math.Sqrt(sq[i] - gAvg[i] * gAvg[i]) + step.Eps;
            }
            else avg = Math.Sqrt(sq[i]) + step.Eps;
            if (b is not null)
            {
                b[i] = step.Momentum * b[i] + gi / avg;
                p[i] -= step.Lr * b[i];
            }
            else p[i] -= step.Lr * gi / avg;
        }
        Store(param, p);
        Store(squareAvg, sq);
        if (gAvg is not null) Store(gradAvg!, gAvg);
        if (b is not null) Store(momentumBuffer!, b);
    }

    /// <summary>Writes row-major float64 <paramref name="values"/> back into <paramref name="t"/>, rounding once.</summary>
    private static void Store(Tensor t, double[] values)
    {
        for (int flat = 0; flat < values.Length; flat++) SetFromDouble(t, t.StorageIndexOf(flat), values[flat]);
    }

    public void FillUniform(Tensor dst, RandomStream stream, double low, double high)
    {
        TrainingChecks.FloatingFill("uniform", dst);
        for (int i = 0; i < dst.Numel; i++) StoreRandom(dst, i, low + (high - low) * stream.Unit(i), high);
    }

    public void FillNormal(Tensor dst, RandomStream stream, double mean, double std)
    {
        TrainingChecks.FloatingFill("normal", dst);
        for (int i = 0; i < dst.Numel; i++)
        {
            var (first, second) = stream.NormalPair(i / 2, mean, std);
            StoreRandom(dst, i, i % 2 == 0 ? first : second, double.PositiveInfinity);
        }
    }

    public void FillRandInt(Tensor dst, RandomStream stream, int low, int high)
    {
        TrainingChecks.IntegerFill(dst, low, high);
        var values = dst.Storage.As<int>();
        for (int i = 0; i < dst.Numel; i++) values[dst.StorageIndexOf(i)] = stream.Integer(i, low, high);
    }

    /// <summary>Stores a random value at row-major position <paramref name="flat"/>, float32 by <see cref="RandomStream.ToFloat"/>.</summary>
    private static void StoreRandom(Tensor dst, int flat, double v, double high)
    {
        int at = dst.StorageIndexOf(flat);
        if (dst.DType == DType.Float32) dst.Storage.As<float>()[at] = RandomStream.ToFloat(v, high);
        else dst.Storage.As<double>()[at] = v;
    }
}
