namespace Fovea.NN;

/// <summary>
/// Returns named intermediate outputs of one forward pass (torchvision's <c>create_feature_extractor</c>, built on
/// forward hooks): <c>new FeatureExtractor(model, "layer3", "avgpool")</c>, then <see cref="Extract(Tensor)"/>.
/// A name is a dotted module name of <see cref="Module.NamedModules"/> whose module maps a tensor to a tensor and
/// is run through <see cref="Module{TIn, TOut}.Call"/> (every child of a <see cref="Sequential"/> and of the zoo's
/// blocks is). The hooks stay registered until <see cref="Dispose"/>.
/// </summary>
public sealed class FeatureExtractor : IDisposable
{
    private readonly Module<Tensor, Tensor> _model;
    private readonly string[] _layers;
    private readonly RemovableHandle[] _handles;
    private readonly Dictionary<string, Tensor> _captured = new(StringComparer.Ordinal);

    /// <summary>Hooks <paramref name="layers"/> of <paramref name="model"/>; an unknown name is an error listing the valid ones.</summary>
    public FeatureExtractor(Module<Tensor, Tensor> model, params string[] layers)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(layers);
        if (layers.Length == 0) throw new ArgumentException("FeatureExtractor: name at least one layer (" + ValidNamesText(model) + ")", nameof(layers));
        _model = model;
        _layers = (string[])layers.Clone();
        _handles = new RemovableHandle[layers.Length];
        for (int i = 0; i < layers.Length; i++)
        {
            var module = Find(model, layers[i]);
            string name = layers[i];
            _handles[i] = module.RegisterForwardHook((_, _, output) => { _captured[name] = output; });
        }
    }

    /// <summary>The hooked layer names, in the order given.</summary>
    public IReadOnlyList<string> Layers => _layers;

    /// <summary>The output of the last <see cref="Extract(Tensor)"/>'s forward pass.</summary>
    public Tensor? Output { get; private set; }

    /// <summary>
    /// Runs the model once on <paramref name="input"/> and returns each named layer's output (the last one, if a
    /// module runs twice). Gradients flow through the returned tensors as through the model (no detaching).
    /// </summary>
    public IReadOnlyDictionary<string, Tensor> Extract(Tensor input)
    {
        _captured.Clear();
        Output = _model.Call(input);
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in _layers)
        {
            if (!_captured.TryGetValue(name, out var value))
                throw new InvalidOperationException($"FeatureExtractor: layer '{name}' did not run in the forward pass of {_model.Describe()} " +
                    "(its parent computes it without calling the module; choose another layer)");
            result[name] = value;
        }
        _captured.Clear();
        return result;
    }

    /// <summary>Removes the hooks.</summary>
    public void Dispose()
    {
        foreach (var h in _handles) h?.Remove();
    }

    /// <summary>The names a feature extractor accepts for <paramref name="model"/>: every sub-module mapping a tensor to a tensor.</summary>
    public static IReadOnlyList<string> ValidNames(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.NamedModules().Where(m => m.Name.Length > 0 && m.Module is Module<Tensor, Tensor>).Select(m => m.Name).ToList();
    }

    /// <summary>
    /// The sub-module <paramref name="name"/> of <paramref name="model"/> as a tensor-to-tensor module; an unknown
    /// name is an <see cref="ArgumentException"/> that lists the valid names.
    /// </summary>
    public static Module<Tensor, Tensor> Find(Module model, string name)
    {
        ArgumentNullException.ThrowIfNull(model);
        foreach (var (n, m) in model.NamedModules())
            if (n.Length > 0 && n == name && m is Module<Tensor, Tensor> layer) return layer;
        throw new ArgumentException($"unknown layer '{name}' in {model.Describe()} ({ValidNamesText(model)})");
    }

    private static string ValidNamesText(Module model) => "valid layers: " + string.Join(", ", ValidNames(model));
}
