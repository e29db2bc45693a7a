namespace Fovea.Optim;

/// <summary>
/// A set of parameters that share hyper-parameters (PyTorch's <c>param_groups</c> entry). Every group has its
/// own learning rate and weight decay, so e.g. a pretrained backbone can train slower than a new head.
/// Optimizer-specific groups (<see cref="SgdParamGroup"/>, <see cref="AdamParamGroup"/>,
/// <see cref="RMSpropParamGroup"/>) add their options; setters validate and name the optimizer.
/// </summary>
public abstract class ParamGroup
{
    private readonly Tensor[] _params;
    private double _lr, _weightDecay;

    /// <summary>Per-parameter optimizer state, aligned with <see cref="Parameters"/>; null until a parameter's first update.</summary>
    internal readonly object?[] States;

    /// <summary>Creates a group over <paramref name="parameters"/> for the optimizer named <paramref name="owner"/>.</summary>
    protected ParamGroup(string owner, IEnumerable<Tensor> parameters, double lr, double weightDecay, bool maximize)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Owner = owner;
        _params = [.. parameters];
        States = new object?[_params.Length];
        Lr = lr;
        WeightDecay = weightDecay;
        Maximize = maximize;
    }

    /// <summary>Name of the optimizer that owns this group, used in error messages.</summary>
    public string Owner { get; }

    /// <summary>The parameters, in order.</summary>
    public IReadOnlyList<Tensor> Parameters => _params;

    internal Tensor[] ParamArray => _params;

    /// <summary>Learning rate (≥ 0). Schedulers write this before each epoch or batch.</summary>
    public double Lr
    {
        get => _lr;
        set => _lr = CheckNonNegative("learning rate", value);
    }

    /// <summary>Weight decay (≥ 0): an L2 term added to the gradient (decoupled parameter decay for AdamW).</summary>
    public double WeightDecay
    {
        get => _weightDecay;
        set => _weightDecay = CheckNonNegative("weight decay", value);
    }

    /// <summary>Maximise the objective instead of minimising it (steps along +gradient).</summary>
    public bool Maximize { get; set; }

    /// <summary>The learning rate a scheduler started from (PyTorch's <c>initial_lr</c>); null until a scheduler sets it.</summary>
    public double? InitialLr { get; set; }

    /// <summary>Throws unless <paramref name="value"/> is a finite number ≥ 0.</summary>
    protected double CheckNonNegative(string what, double value)
    {
        if (!(value >= 0) || double.IsInfinity(value))
            throw new ArgumentOutOfRangeException(what, value, $"{Owner}: invalid {what} {value} (must be a finite number >= 0)");
        return value;
    }

    /// <summary>Throws unless <paramref name="value"/> lies in [0, 1).</summary>
    protected double CheckUnitInterval(string what, double value)
    {
        if (!(value >= 0 && value < 1))
            throw new ArgumentOutOfRangeException(what, value, $"{Owner}: invalid {what} {value} (must be in [0, 1))");
        return value;
    }

    /// <summary>Checks rules that involve several options together (e.g. Nesterov needs momentum).</summary>
    protected internal virtual void Validate() { }

    /// <summary>Writes the hyper-parameters under PyTorch's names (booleans as 0 or 1).</summary>
    protected internal virtual void WriteOptions(IDictionary<string, double> options)
    {
        options["lr"] = Lr;
        options["weight_decay"] = WeightDecay;
        options["maximize"] = Maximize ? 1 : 0;
        if (InitialLr is { } initial) options["initial_lr"] = initial;
    }

    /// <summary>Reads the hyper-parameters written by <see cref="WriteOptions"/>.</summary>
    protected internal virtual void ReadOptions(IReadOnlyDictionary<string, double> options)
    {
        Lr = Read(options, "lr");
        WeightDecay = Read(options, "weight_decay");
        Maximize = Read(options, "maximize") != 0;
        InitialLr = options.TryGetValue("initial_lr", out var initial) ? initial : null;
    }

    /// <summary>The option <paramref name="name"/>, or a clear error when the saved state lacks it.</summary>
    protected double Read(IReadOnlyDictionary<string, double> options, string name) =>
        options.TryGetValue(name, out var v) ? v
            : throw new ArgumentException($"{Owner}.LoadStateDict: the saved parameter group has no option '{name}' (saved by a different optimizer?)");
}

/// <summary>A group whose momentum a cyclic scheduler (<see cref="OneCycleLR"/>) can drive: SGD and RMSprop momentum, Adam's β1.</summary>
public interface IMomentumGroup
{
    /// <summary>The momentum coefficient (β1 for Adam and AdamW).</summary>
    double Momentum { get; set; }
}
