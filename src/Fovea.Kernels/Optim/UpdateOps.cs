using System.Numerics;

namespace Fovea.Kernels;

// The update rules of torch.optim 1.13 (the single-tensor, non-foreach path), fused into one pass.
// Each line mirrors one in-place tensor op of PyTorch, in the same order and association, because a
// float64 trajectory must match PyTorch's to 1e-10:
//   add(x, alpha=a)      -> self + a * x
//   addcmul(x, y, v)     -> self + (v * x) * y
//   addcdiv(x, y, v)     -> self + (v * x) / y
// Hyper-parameters arrive as doubles and are rounded to T once, as PyTorch casts its Python scalars.

/// <summary>
/// SGD (torch.optim.SGD): d = ±g (+ wd·p); with momentum the buffer is b = d on the first step and
/// b = μ·b + (1 − τ)·d afterwards; d = d + μ·b (Nesterov) or b; then p = p − lr·d.
/// Slot 0 is the momentum buffer (empty when momentum is 0).
/// </summary>
public readonly struct SgdUpdate<T> : IParamUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _negLr, _wd, _mu, _oneMinusDampening;
    private readonly bool _hasWd, _hasMomentum, _nesterov, _maximize, _first;

    /// <summary>Coefficients of one step; <paramref name="firstStep"/> means the momentum buffer is set to d rather than decayed.</summary>
    public SgdUpdate(double lr, double momentum, double dampening, bool nesterov, double weightDecay, bool maximize, bool firstStep)
    {
        _negLr = T.CreateTruncating(-lr);
        _wd = T.CreateTruncating(weightDecay);
        _mu = T.CreateTruncating(momentum);
        _oneMinusDampening = T.CreateTruncating(1 - dampening);
        _hasWd = weightDecay != 0;
        _hasMomentum = momentum != 0;
        _nesterov = nesterov;
        _maximize = maximize;
        _first = firstStep;
    }

    /// <inheritdoc/>
    public void Invoke(ref T p, T g, ref T buf, ref T s1, ref T s2)
    {
        T d = _maximize ? -g : g;
        if (_hasWd) d = d + _wd * p;
        if (_hasMomentum)
        {
            buf = _first ? d : buf * _mu + _oneMinusDampening * d;
            d = _nesterov ? d + _mu * buf : buf;
        }
        p = p + _negLr * d;
    }

    /// <inheritdoc/>
    public void Invoke(ref Vector<T> p, Vector<T> g, ref Vector<T> buf, ref Vector<T> s1, ref Vector<T> s2)
    {
        var d = _maximize ? -g : g;
        if (_hasWd) d = d + new Vector<T>(_wd) * p;
        if (_hasMomentum)
        {
            var mu = new Vector<T>(_mu);
            buf = _first ? d : buf * mu + new Vector<T>(_oneMinusDampening) * d;
            d = _nesterov ? d + mu * buf : buf;
        }
        p = p + new Vector<T>(_negLr) * d;
    }
}

/// <summary>
/// Adam and AdamW (torch.optim.Adam / AdamW): g' = ±g (+ wd·p for Adam; AdamW instead scales
/// p by 1 − lr·wd first); m = β1·m + (1 − β1)·g'; v = β2·v + (1 − β2)·g'²; with AMSGrad
/// v̂max = max(v̂max, v); denom = √v / √(1 − β2ᵗ) + ε; p = p − (lr / (1 − β1ᵗ))·m / denom.
/// Slots: 0 exp_avg, 1 exp_avg_sq, 2 max_exp_avg_sq (empty without AMSGrad).
/// </summary>
public readonly struct AdamUpdate<T> : IParamUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _beta1, _oneMinusBeta1, _beta2, _oneMinusBeta2, _wd, _decay, _bc2Sqrt, _eps, _negStepSize;
    private readonly bool _hasWd, _decoupled, _amsgrad, _maximize;

    /// <summary>
    /// Coefficients of one step at step count <paramref name="step"/> (1 on the first update).
    /// <paramref name="decoupled"/> selects AdamW's decay of the parameter instead of L2 on the gradient.
    /// </summary>
    public AdamUpdate(double lr, double beta1, double beta2, double eps, double weightDecay, bool decoupled, bool amsgrad, bool maximize, long step)
    {
        // Bias corrections in double, exactly as PyTorch computes them in Python floats.
        double bc1 = 1 - Math.Pow(beta1, step);
        double bc2 = 1 - Math.Pow(beta2, step);
        _beta1 = T.CreateTruncating(beta1);
        _oneMinusBeta1 = T.CreateTruncating(1 - beta1);
        _beta2 = T.CreateTruncating(beta2);
        _oneMinusBeta2 = T.CreateTruncating(1 - beta2);
        _wd = T.CreateTruncating(weightDecay);
        _decay = T.CreateTruncating(1 - lr * weightDecay);
        _bc2Sqrt = T.CreateTruncating(Math.Sqrt(bc2));
        _eps = T.CreateTruncating(eps);
        _negStepSize = T.CreateTruncating(-(lr / bc1));
        _hasWd = weightDecay != 0;
        _decoupled = decoupled;
        _amsgrad = amsgrad;
        _maximize = maximize;
    }

    /// <inheritdoc/>
    public void Invoke(ref T p, T g, ref T m, ref T v, ref T vMax)
    {
        T gg = _maximize ? -g : g;
        if (_decoupled) p = p * _decay;
        else if (_hasWd) gg = gg + _wd * p;
        m = m * _beta1 + _oneMinusBeta1 * gg;
        v = v * _beta2 + _oneMinusBeta2 * gg * gg;
        T u = v;
        if (_amsgrad)
        {
            vMax = T.Max(vMax, v);
            u = vMax;
        }
        T denom = T.Sqrt(u) / _bc2Sqrt + _eps;
        p = p + _negStepSize * m / denom;
    }

    /// <inheritdoc/>
    public void Invoke(ref Vector<T> p, Vector<T> g, ref Vector<T> m, ref Vector<T> v, ref Vector<T> vMax)
    {
        var gg = _maximize ? -g : g;
        if (_decoupled) p = p * new Vector<T>(_decay);
        else if (_hasWd) gg = gg + new Vector<T>(_wd) * p;
        m = m * new Vector<T>(_beta1) + new Vector<T>(_oneMinusBeta1) * gg;
        v = v * new Vector<T>(_beta2) + new Vector<T>(_oneMinusBeta2) * gg * gg;
        var u = v;
        if (_amsgrad)
        {
            vMax = Vector.Max(vMax, v);
            u = vMax;
        }
        var denom = Vector.SquareRoot(u) / new Vector<T>(_bc2Sqrt) + new Vector<T>(_eps);
        p = p + new Vector<T>(_negStepSize) * m / denom;
    }
}

/// <summary>
/// RMSprop (torch.optim.RMSprop): g' = ±g (+ wd·p); s = α·s + (1 − α)·g'²; centered: ḡ = α·ḡ + (1 − α)·g',
/// avg = √(s − ḡ²), else avg = √s; avg += ε; with momentum b = μ·b + g'/avg and p = p − lr·b,
/// else p = p − lr·g'/avg. Slots: 0 square_avg, 1 grad_avg (centered only), 2 momentum_buffer.
/// </summary>
public readonly struct RMSpropUpdate<T> : IParamUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _negLr, _alpha, _oneMinusAlpha, _eps, _wd, _mu;
    private readonly bool _hasWd, _centered, _hasMomentum, _maximize;

    /// <summary>Coefficients of one step.</summary>
    public RMSpropUpdate(double lr, double alpha, double eps, double weightDecay, double momentum, bool centered, bool maximize)
    {
        _negLr = T.CreateTruncating(-lr);
        _alpha = T.CreateTruncating(alpha);
        _oneMinusAlpha = T.CreateTruncating(1 - alpha);
        _eps = T.CreateTruncating(eps);
        _wd = T.CreateTruncating(weightDecay);
        _mu = T.CreateTruncating(momentum);
        _hasWd = weightDecay != 0;
        _centered = centered;
        _hasMomentum = momentum > 0;
        _maximize = maximize;
    }

    /// <inheritdoc/>
    public void Invoke(ref T p, T g, ref T sq, ref T gAvg, ref T buf)
    {
        T gg = _maximize ? -g : g;
        if (_hasWd) gg = gg + _wd * p;
        sq = sq * _alpha + _oneMinusAlpha * gg * gg;
        T avg;
        if (_centered)
        {
            gAvg = gAvg * _alpha + _oneMinusAlpha * gg;
            avg = T.Sqrt(sq + -gAvg * gAvg);
        }
        else avg = T.Sqrt(sq);
        avg = avg + _eps;
        if (_hasMomentum)
        {
            buf = buf * _mu + gg / avg;
            p = p + _negLr * buf;
        }
        else p = p + _negLr * gg / avg;
    }

    /// <inheritdoc/>
    public void Invoke(ref Vector<T> p, Vector<T> g, ref Vector<T> sq, ref Vector<T> gAvg, ref Vector<T> buf)
    {
        var gg = _maximize ? -g : g;
        if (_hasWd) gg = gg + new Vector<T>(_wd) * p;
        var alpha = new Vector<T>(_alpha);
        var oneMinusAlpha = new Vector<T>(_oneMinusAlpha);
        sq = sq * alpha + oneMinusAlpha * gg * gg;
        Vector<T> avg;
        if (_centered)
        {
            gAvg = gAvg * alpha + oneMinusAlpha * gg;
            avg = Vector.SquareRoot(sq + -gAvg * gAvg);
        }
        else avg = Vector.SquareRoot(sq);
        avg = avg + new Vector<T>(_eps);
        if (_hasMomentum)
        {
            buf = buf * new Vector<T>(_mu) + gg / avg;
            p = p + new Vector<T>(_negLr) * buf;
        }
        else p = p + new Vector<T>(_negLr) * gg / avg;
    }
}
