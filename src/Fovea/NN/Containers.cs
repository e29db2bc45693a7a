namespace Fovea.NN;

/// <summary>
/// Runs its children in order, feeding each output to the next; children are named "0", "1", ... or given names
/// (<see cref="Add{T}"/>). Models whose forward pass is a chain of named stages (AlexNet's features / avgpool /
/// classifier, a ResNet's conv1 … fc) derive from it, so <c>Summary</c> walks them layer by layer.
/// </summary>
public class Sequential : Module<Tensor, Tensor>
{
    /// <inheritdoc/>
    public override bool HoldsNoActivations => true;

    private readonly List<Module<Tensor, Tensor>> _layers = [];

    /// <summary>An empty sequence; add layers with <see cref="Append"/>.</summary>
    public Sequential() { }

    /// <summary>Children named by position.</summary>
    public Sequential(params Module<Tensor, Tensor>[] layers)
    {
        foreach (var l in layers) Append(l);
    }

    /// <summary>Children with given names.</summary>
    public Sequential(params (string Name, Module<Tensor, Tensor> Layer)[] layers)
    {
        foreach (var (name, l) in layers) Add(name, l);
    }

    /// <summary>Adds a layer at the end, named by its position.</summary>
    public Sequential Append(Module<Tensor, Tensor> layer)
    {
        RegisterModule(_layers.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), layer);
        _layers.Add(layer);
        return this;
    }

    /// <summary>Adds a layer at the end under <paramref name="name"/> (PyTorch's <c>add_module</c>) and returns it.</summary>
    public T Add<T>(string name, T layer) where T : Module<Tensor, Tensor>
    {
        RegisterModule(name, layer);
        _layers.Add(layer);
        return layer;
    }

    /// <summary>The layers in order.</summary>
    public IReadOnlyList<Module<Tensor, Tensor>> Layers => _layers;

    /// <summary>Layer <paramref name="index"/>.</summary>
    public Module<Tensor, Tensor> this[int index] => _layers[index];

    /// <inheritdoc/>
    /// <remarks>
    /// In evaluation with gradients off, a <see cref="Conv2d"/> directly followed by a <see cref="BatchNorm2d"/> runs as
    /// one convolution with the batch norm folded in (<see cref="ConvBatchNormFolding"/>; cached until a parameter or
    /// statistic changes), and a <see cref="ReLU"/> right after it (with no hook) is applied by that convolution
    /// (<see cref="ConvBatchNormFolding.ForwardRelu"/>), and with a <see cref="MaxPool2d"/> (no hook) after that ReLU the
    /// three run as one call (<see cref="ConvBatchNormFolding.ForwardReluMaxPool"/>, a stem), as do a Conv2d, a ReLU
    /// and a MaxPool2d with gradients off (<see cref="Functional.Conv2dReluMaxPool2d"/>);
    /// in training, or where a hook watches either layer, each layer runs as it is. A <see cref="ReLU"/> directly
    /// followed by a <see cref="MaxPool2d"/> (neither hooked) pools first and rectifies the pooled values, which gives the
    /// same output and the same gradients on a quarter of the values (LeNet-5's and a ResNet stem's pairs).
    /// Where every layer <see cref="Module.HoldsNoActivations"/> and no module below has a forward hook, the buffer
    /// of each intermediate output goes back to the <see cref="StoragePool"/> once the next layer has read it
    /// (<see cref="StoragePool.Recycle"/>): with gradients off at once, so that later layers (and the next call)
    /// write into memory the process already holds; in training once the backward pass has released the graph nodes
    /// that saved it, so that the next step's forward and the backward's gradients reuse it.
    /// </remarks>
    public override Tensor Forward(Tensor input)
    {
        bool recycle = StoragePool.Enabled && LayersReleaseActivations();
        bool owned = false; // whether x is a buffer this call made, which nothing else holds
        var x = input;
        for (int k = 0; k < _layers.Count; k++)
        {
            Tensor next;
            if (k + 1 < _layers.Count && _layers[k] is Conv2d conv && _layers[k + 1] is BatchNorm2d norm && ConvBatchNormFolding.CanFold(conv, norm))
            {
                _folds ??= [];
                if (!_folds.TryGetValue(k, out var fold)) _folds[k] = fold = new ConvBatchNormFolding();
                k++;
                if (k + 2 < _layers.Count && _layers[k + 1] is ReLU stemRelu && !stemRelu.HasForwardHooks && _layers[k + 2] is MaxPool2d stemPool && !stemPool.HasForwardHooks)
                {
                    // A stem: the folded convolution, its ReLU and the pooling after it in one call, which on the stem's
                    // shapes never writes the convolution's output.
                    next = fold.ForwardReluMaxPool(conv, norm, stemPool, x);
                    k += 2;
                }
                else if (k + 1 < _layers.Count && _layers[k + 1] is ReLU relu && !relu.HasForwardHooks)
                {
                    // The folded convolution rectifies its own output (in its kernel, or in one pass over it).
                    next = fold.ForwardRelu(conv, norm, x);
                    k++;
                }
                else next = fold.Forward(conv, norm, x);
            }
            else if (!GradMode.IsEnabled && k + 2 < _layers.Count && _layers[k] is Conv2d stemConv && _layers[k + 1] is ReLU convRelu && _layers[k + 2] is MaxPool2d convPool
                && stemConv.PaddingMode == PaddingMode.Zeros && !stemConv.HasForwardHooks && !convRelu.HasForwardHooks && !convPool.HasForwardHooks)
            {
                // A convolution, its ReLU and a pooling without a batch norm between (AlexNet's stem, the end of a VGG
                // block), in inference: one call, which on a stem's shapes never writes the convolution's output and
                // elsewhere pools before it rectifies, as the pair below does.
                next = Functional.Conv2dReluMaxPool2d(x, stemConv.Weight, stemConv.Bias, stemConv.StrideSize, stemConv.PaddingSize, stemConv.DilationSize, stemConv.Groups,
                    convPool.KernelSize, convPool.StrideSize, convPool.PaddingSize, convPool.DilationSize, convPool.CeilMode);
                k += 2;
            }
            else if (k + 1 < _layers.Count && _layers[k] is ReLU rectifier && _layers[k + 1] is MaxPool2d pool && !rectifier.HasForwardHooks && !pool.HasForwardHooks)
            {
                // Max pooling commutes with the monotone ReLU: max over a window of relu(x) is relu of the max over it,
                // bit for bit, and so are the gradients (a window whose max is positive sends its gradient to the same
                // first argmax either way; one whose max is not positive sends none either way). Pooling first runs the
                // ReLU, its saved output and its backward on the pooled values: a quarter of them behind a 2x2 pool.
                // The pooled values are a new tensor nothing else holds: where nothing is recorded they are rectified
                // where they lie (Functional.Relu falls back to a new tensor otherwise).
                next = Functional.Relu(pool.Forward(x), inPlace: true);
                k++;
            }
            else next = _layers[k].Call(x);
            if (recycle) owned = HandOver(x, owned, next, input);
            x = next;
        }
        return x;
    }

    /// <summary>Whether every layer, and every module below it, keeps no tensor it is given or returns (and has no hook).</summary>
    private bool LayersReleaseActivations()
    {
        foreach (var layer in _layers)
            if (!layer.ReleasesActivations()) return false;
        return true;
    }

    /// <summary>
    /// After a layer turned <paramref name="x"/> into <paramref name="next"/>: hands x's buffer to the pool when this
    /// call made it (<paramref name="owned"/>) and next does not live in it (a layer that works in place or returns a
    /// view passes the buffer on). Returns whether next's buffer is one this call made.
    /// </summary>
    private static bool HandOver(Tensor x, bool owned, Tensor next, Tensor input)
    {
        if (ReferenceEquals(next.Storage, x.Storage)) return owned;
        if (owned) StoragePool.Recycle(x);
        return !ReferenceEquals(next.Storage, input.Storage);
    }

    /// <summary>The folding cache of each Conv2d → BatchNorm2d pair, by the convolution's index (made on first use).</summary>
    private Dictionary<int, ConvBatchNormFolding>? _folds;
}

/// <summary>A list of modules registered as children "0", "1", ... (no forward of its own).</summary>
public sealed class ModuleList : Module, IReadOnlyList<Module>
{
    private readonly List<Module> _items = [];

    /// <summary>Creates the list with <paramref name="modules"/>.</summary>
    public ModuleList(params Module[] modules)
    {
        foreach (var m in modules) Add(m);
    }

    /// <summary>Adds a module at the end.</summary>
    public void Add(Module module)
    {
        RegisterModule(_items.Count.ToString(System.Globalization.CultureInfo.InvariantCulture), module);
        _items.Add(module);
    }

    /// <inheritdoc/>
    public Module this[int index] => _items[index];

    /// <inheritdoc/>
    public int Count => _items.Count;

    /// <inheritdoc/>
    public IEnumerator<Module> GetEnumerator() => _items.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
