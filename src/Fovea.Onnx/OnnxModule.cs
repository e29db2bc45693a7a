using Fovea.NN;
using Fovea.Onnx.Import;
using Fovea.Onnx.Protobuf;

namespace Fovea.Onnx;

/// <summary>
/// An ONNX model imported as a Fovea module. Every floating initializer is a named <see cref="Module"/> parameter
/// (trainable, freezable with <see cref="Module.Freeze"/>; dotted ONNX names such as <c>layer1.0.conv1.weight</c>
/// nest as child modules, so the names are kept), batch-norm running statistics are buffers, and the forward pass
/// runs the graph's nodes with Fovea ops, so the network trains, fine-tunes and gradient-checks like one written in
/// Fovea. <see cref="Module.Train(bool)"/> switches batch norm to batch statistics and turns dropout on.
/// Made by <see cref="OnnxModel.Import(string)"/>.
/// </summary>
public sealed class OnnxModule : Module<Tensor, Tensor>
{
    private readonly List<CompiledNode> _nodes = [];
    private readonly Dictionary<string, Func<Tensor>> _weights = [];
    private readonly Dictionary<string, OnnxValue> _constants = [];
    private readonly Dictionary<string, string> _parameterNames = [];
    private readonly List<OnnxTensorInfo> _inputs = [];
    private readonly string[] _outputs;

    private sealed record CompiledNode(string[] Inputs, string[] Outputs, OnnxKernel Kernel, string Where, string[] Release);

    internal OnnxModule(ModelProto model, string source)
    {
        Proto = model;
        Source = source;
        var graph = model.Graph;
        Opset = DefaultOpset(model, source);
        var initializers = new Dictionary<string, TensorProto>();
        foreach (var t in graph.Initializer)
        {
            if (t.Name.Length == 0) throw new InvalidDataException($"{source}: an initializer has no name");
            if (!initializers.TryAdd(t.Name, t)) throw new InvalidDataException($"{source}: initializer '{t.Name}' is defined twice");
        }
        if (graph.SparseInitializer.Count > 0) throw new OnnxImportException($"{source}: sparse initializers are not supported");

        // Which initializers are batch-norm statistics (buffers) and which are read only as host values (constants).
        var usedAsStatistic = new HashSet<string>();
        var usedAsTensor = new HashSet<string>();
        foreach (var node in graph.Node)
        {
            var host = OnnxOperators.HostInputs(node.OpType);
            for (int k = 0; k < node.Input.Count; k++)
            {
                string name = node.Input[k];
                if (!initializers.ContainsKey(name)) continue;
                if (node.OpType == "BatchNormalization" && k >= 3) usedAsStatistic.Add(name);
                else if (!host.Contains(k)) usedAsTensor.Add(name);
            }
        }
        foreach (var (name, t) in initializers)
        {
            bool floating = OnnxReader.IsFloating(t.DataType);
            if (floating && (usedAsTensor.Contains(name) || usedAsStatistic.Contains(name)))
            {
                var values = OnnxReader.ReadReals(t, source);
                var dims = OnnxReader.Dims(t, source);
                var tensor = Tensor.FromArray(Array.ConvertAll(values, v => (float)v), dims);
                Register(name, tensor, buffer: !usedAsTensor.Contains(name));
            }
            else _constants[name] = OnnxOperators.FromTensorProto(t, source);
        }

        // Graph inputs that are not initializers (IR 3 files list initializers among the inputs too).
        foreach (var input in graph.Input)
        {
            if (initializers.ContainsKey(input.Name)) continue;
            _inputs.Add(OnnxTensorInfo.From(input, source));
        }
        if (_inputs.Count == 0) throw new InvalidDataException($"{source}: the graph has no input");
        _outputs = [.. graph.Output.Select(o => o.Name)];
        if (_outputs.Length == 0) throw new InvalidDataException($"{source}: the graph has no output");

        // Compile every node in order, checking that each input is defined before it is used (ONNX graphs are sorted).
        var defined = new HashSet<string>(initializers.Keys.Concat(_inputs.Select(i => i.Name)));
        var lastUse = new Dictionary<string, int>();
        var compiled = new List<(NodeProto Node, OnnxKernel Kernel, string Where)>();
        for (int k = 0; k < graph.Node.Count; k++)
        {
            var proto = graph.Node[k];
            var node = new OnnxNode(proto, OpsetOf(model, proto, source), source);
            if (node.Opset is < 7 or > 21)
                throw new OnnxImportException($"{node.Where}: opset {node.Opset} is outside the opsets 7–21 that Fovea imports");
            foreach (var name in proto.Input)
            {
                if (name.Length == 0) continue;
                if (!defined.Contains(name))
                    throw new InvalidDataException($"{node.Where}: input '{name}' is not defined by a graph input, an initializer or an earlier node");
                lastUse[name] = k;
            }
            compiled.Add((proto, OnnxOperators.Compile(node), node.Where));
            foreach (var name in proto.Output)
                if (name.Length > 0) defined.Add(name);
        }
        foreach (var o in _outputs)
            if (!defined.Contains(o)) throw new InvalidDataException($"{source}: graph output '{o}' is not computed by any node");
        var uses = graph.Node.SelectMany(n => n.Input).Where(name => name.Length > 0).GroupBy(name => name).ToDictionary(g => g.Key, g => g.Count());
        // Values a node may overwrite: a new tensor made by a Conv (folded or not), an Add or a Relu of this graph,
        // read by that one node only and not a graph output, so no other reader and no caller can see the change.
        var fresh = new HashSet<string>();
        bool Writable(string name) => fresh.Contains(name) && uses.GetValueOrDefault(name) == 1 && !_outputs.Contains(name);
        for (int k = 0; k < compiled.Count; k++)
        {
            var (proto, kernel, where) = compiled[k];
            // Values whose last reader is this node are dropped after it (graph outputs and weights are kept).
            string[] Release(NodeProto p, int at) => [.. p.Input.Where(name => name.Length > 0 && lastUse[name] == at && !_outputs.Contains(name)
                && !initializers.ContainsKey(name) && !_inputs.Any(i => i.Name == name)).Distinct()];
            if (PlanConvRelu(compiled, k, uses) is { } plan)
            {
                NodeProto? norm = plan.Norm < 0 ? null : compiled[plan.Norm].Node;
                NodeProto? add = plan.Add < 0 ? null : compiled[plan.Add].Node;
                var relu = compiled[plan.Relu];
                // Inputs: the Conv's three slots (an absent bias as ""), the norm's four parameters, the other operand of the Add.
                string[] inputs = [.. proto.Input, .. Enumerable.Repeat("", 3 - proto.Input.Count),
                    .. norm?.Input.Skip(1) ?? [], .. plan.Other is null ? Array.Empty<string>() : [plan.Other]];
                var convNode = new OnnxNode(proto, OpsetOf(model, proto, source), source);
                var pool = plan.Pool < 0 ? default : compiled[plan.Pool];
                var convRelu = plan.Pool < 0 ? OnnxOperators.ConvRelu(convNode)
                    : OnnxOperators.ConvReluMaxPool(convNode, new OnnxNode(pool.Node, OpsetOf(model, pool.Node, source), source));
                var fused = FusedConvRelu(kernel, convRelu, proto.Input.Count, norm is null ? null : compiled[plan.Norm].Kernel,
                    norm is null ? 0 : ReadEpsilon(model, norm, source), add is null ? null : compiled[plan.Add].Kernel, add is not null && add.Input[0] != plan.Other, relu.Kernel,
                    plan.Pool < 0 ? null : pool.Kernel);
                var members = Enumerable.Range(k, plan.Last - k + 1).ToArray();
                string[] inner = [.. members.Take(members.Length - 1).Select(i => compiled[i].Node.Output[0])];
                _nodes.Add(new CompiledNode(inputs, [.. compiled[plan.Last].Node.Output], fused, string.Join(" + ", members.Select(i => compiled[i].Where)),
                    [.. members.SelectMany(i => Release(compiled[i].Node, i)).Where(name => !inner.Contains(name)).Distinct()]));
                if (norm is not null) FusedConvBatchNormPairs++;
                if (plan.Pool >= 0) FusedConvReluPools++;
                else if (add is null) FusedConvRelus++;
                else FusedConvJoins++;
                if (plan.Pool < 0) fresh.Add(relu.Node.Output[0]);
                k = plan.Last;
                continue;
            }
            if (k + 1 < compiled.Count && FoldsIntoConv(proto, compiled[k + 1].Node, uses))
            {
                var (norm, normKernel, normWhere) = compiled[k + 1];
                string[] inputs = [.. proto.Input, .. norm.Input.Skip(1)];
                var fused = FusedConvBatchNorm(kernel, normKernel, proto.Input.Count, ReadEpsilon(model, norm, source));
                _nodes.Add(new CompiledNode(inputs, [.. norm.Output], fused, $"{where} + {normWhere}",
                    [.. Release(proto, k).Concat(Release(norm, k + 1)).Where(name => name != proto.Output[0]).Distinct()]));
                FusedConvBatchNormPairs++;
                fresh.Add(norm.Output[0]);
                k++;
                continue;
            }
            if (k + 1 < compiled.Count && JoinsIntoRelu(proto, compiled[k + 1].Node, uses))
            {
                var (relu, reluKernel, reluWhere) = compiled[k + 1];
                var fused = FusedAddRelu(kernel, reluKernel, Writable(proto.Input[0]), Writable(proto.Input[1]));
                _nodes.Add(new CompiledNode([.. proto.Input], [.. relu.Output], fused, $"{where} + {reluWhere}",
                    [.. Release(proto, k).Concat(Release(relu, k + 1)).Where(name => name != proto.Output[0]).Distinct()]));
                FusedAddReluPairs++;
                fresh.Add(relu.Output[0]);
                k++;
                continue;
            }
            if (k + 1 < compiled.Count && PoolsAfterRelu(proto, compiled[k + 1].Node, uses) && Writable(proto.Input[0])
                && EveryWindowHoldsInput(new OnnxNode(compiled[k + 1].Node, OpsetOf(model, compiled[k + 1].Node, source), source)))
            {
                var (pool, poolKernel, poolWhere) = compiled[k + 1];
                _nodes.Add(new CompiledNode([.. proto.Input], [.. pool.Output], PoolBeforeRelu(kernel, poolKernel), $"{where} + {poolWhere}",
                    [.. Release(proto, k).Concat(Release(pool, k + 1)).Where(name => name != proto.Output[0]).Distinct()]));
                ReluAfterPools++;
                k++;
                continue;
            }
            if (proto.OpType == "Relu" && proto.Input.Count == 1 && Writable(proto.Input[0]))
            {
                kernel = InPlaceRelu(kernel);
                InPlaceRelus++;
            }
            if (proto.OpType is "Conv" or "Add" or "Relu" && proto.Output.Count == 1) fresh.Add(proto.Output[0]);
            _nodes.Add(new CompiledNode([.. proto.Input], [.. proto.Output], kernel, where, Release(proto, k)));
        }
    }

    /// <summary>
    /// Where a Conv's output runs on to: the BatchNormalization folded into it, the Add it joins, the Relu, and the MaxPool
    /// that reads nothing but the Relu's output (node indices, −1 for none).
    /// </summary>
    private sealed record ConvReluPlan(int Norm, int Add, int Relu, string? Other, int Pool = -1)
    {
        /// <summary>The plan's last node: the MaxPool after the Relu (a stem), or the Relu.</summary>
        public int Last => Pool >= 0 ? Pool : Relu;
    }

    /// <summary>
    /// The Conv at <paramref name="k"/>, when its output (or that of a BatchNormalization folding into it) is read only
    /// by the Relu right after, or only by an Add right after whose only reader is the Relu after it (a residual join,
    /// the Add's other operand being another value): the nodes <see cref="FusedConvRelu"/> runs as one. Null otherwise.
    /// </summary>
    private ConvReluPlan? PlanConvRelu(List<(NodeProto Node, OnnxKernel Kernel, string Where)> compiled, int k, Dictionary<string, int> uses)
    {
        var conv = compiled[k].Node;
        if (conv.OpType != "Conv" || conv.Output.Count != 1 || conv.Input.Count is < 2 or > 3 || conv.Output[0].Length == 0) return null;
        int j = k + 1, norm = -1;
        if (j < compiled.Count && FoldsIntoConv(conv, compiled[j].Node, uses)) norm = j++;
        string y = norm < 0 ? conv.Output[0] : compiled[norm].Node.Output[0];
        if (j >= compiled.Count || uses.GetValueOrDefault(y) != 1 || _outputs.Contains(y)) return null;
        var next = compiled[j].Node;
        if (next.OpType == "Relu" && next.Input.Count == 1 && next.Input[0] == y && next.Output.Count == 1 && next.Output[0].Length > 0)
            return new ConvReluPlan(norm, -1, j, null, j + 1 < compiled.Count && PoolsAfterRelu(next, compiled[j + 1].Node, uses) ? j + 1 : -1);
        if (j + 1 < compiled.Count && JoinsIntoRelu(next, compiled[j + 1].Node, uses) && next.Input.Count(name => name == y) == 1)
            return new ConvReluPlan(norm, j, j + 1, next.Input[0] == y ? next.Input[1] : next.Input[0]);
        return null;
    }

    /// <summary>
    /// Conv (its BatchNormalization folded, if it has one) then Relu, or then Add and Relu: relu(conv + other) computed
    /// by the convolution's kernels as they write each output (<see cref="OnnxOperators.ConvRelu"/>, through
    /// <see cref="Functional.Conv2dRelu"/>, which itself runs the ops as written where a gradient is recorded). Where
    /// the norm does not fold (training mode, gradients on) or the other operand is not a tensor of the run's dtype, the
    /// kernels in turn: the convolution (and norm), then the Add and Relu as <see cref="FusedAddRelu"/> runs them, or
    /// the Relu in place on the new output. With a <paramref name="pool"/> (a stem's MaxPool, which reads nothing but the
    /// Relu's output), <paramref name="convRelu"/> is <see cref="OnnxOperators.ConvReluMaxPool"/> and the kernels in
    /// turn end with the pool.
    /// </summary>
    private static OnnxKernel FusedConvRelu(OnnxKernel conv, OnnxKernel convRelu, int convInputs, OnnxKernel? norm, double eps, OnnxKernel? add, bool convFirst, OnnxKernel relu,
        OnnxKernel? pool = null)
    {
        var fold = norm is null ? null : new ConvBatchNormFolding();
        var convNorm = norm is null ? null : FusedConvBatchNorm(conv, norm, convInputs, eps);
        var join = add is null ? InPlaceRelu(relu) : FusedAddRelu(add, relu, writable0: convFirst, writable1: !convFirst);
        return (run, args) =>
        {
            OnnxValue?[] convArgs = args[..3], normArgs = norm is null ? [] : args[3..7];
            OnnxValue? other = add is null ? null : args[^1];
            if ((add is null || other?.Tensor is { } o && o.DType == run.DType) && run.DType.IsFloating())
            {
                if (norm is null)
                    return convRelu(run, [.. convArgs, other]);
                if (TryFold(run, convArgs, normArgs, fold!, eps) is { } folded)
                    return convRelu(run, [convArgs[0], OnnxValue.Of(folded.Weight), OnnxValue.Of(folded.Bias), other]);
            }
            var y = norm is null ? conv(run, convArgs[..convInputs]) : convNorm!(run, [.. convArgs[..convInputs], .. normArgs]);
            var joined = join(run, add is null ? y : convFirst ? [y[0], other!] : [other!, y[0]]);
            return pool is null ? joined : pool(run, joined);
        };
    }

    /// <summary>
    /// True for an Add whose only output is read by nothing but the Relu right after it: the residual join, which
    /// inference runs as one pass (<see cref="FusedAddRelu"/>).
    /// </summary>
    private bool JoinsIntoRelu(NodeProto add, NodeProto relu, Dictionary<string, int> uses) =>
        add.OpType == "Add" && relu.OpType == "Relu" && add.Input.Count == 2 && add.Input.All(name => name.Length > 0) && add.Output.Count == 1
        && relu.Input.Count == 1 && relu.Input[0] == add.Output[0] && relu.Output.Count == 1 && relu.Output[0].Length > 0
        && uses.GetValueOrDefault(add.Output[0]) == 1 && !_outputs.Contains(add.Output[0]);

    /// <summary>
    /// Add then Relu: where nothing is recorded, relu(a + b) in one pass (<see cref="Functional.AddRelu"/>), written
    /// into an operand that is <paramref name="writable0"/> or <paramref name="writable1"/> (a new tensor only this
    /// node reads); otherwise, or for host values, the two kernels in turn, so training and gradients see the graph
    /// as written.
    /// </summary>
    private static OnnxKernel FusedAddRelu(OnnxKernel add, OnnxKernel relu, bool writable0, bool writable1) => (run, args) =>
    {
        if (args[0]?.Tensor is { } a && args[1]?.Tensor is { } b && a.DType == run.DType && b.DType == run.DType && a.DType.IsFloating())
        {
            // a + b = b + a exactly, so the writable operand goes first (it is written only if it has the result's shape).
            var result = !writable0 && writable1 ? Functional.AddRelu(b, a, inPlace: true) : Functional.AddRelu(a, b, inPlace: writable0);
            return [OnnxValue.Of(result)];
        }
        return relu(run, add(run, args));
    };

    /// <summary>
    /// True for a Relu whose only output is read by nothing but the MaxPool right after it (one output, no indices):
    /// a ResNet's stem, which runs pool first (<see cref="PoolBeforeRelu"/>).
    /// </summary>
    private bool PoolsAfterRelu(NodeProto relu, NodeProto pool, Dictionary<string, int> uses) =>
        relu.OpType == "Relu" && pool.OpType == "MaxPool" && relu.Input.Count == 1 && relu.Output.Count == 1 && relu.Output[0].Length > 0
        && pool.Input.Count == 1 && pool.Input[0] == relu.Output[0] && pool.Output.Count == 1 && pool.Output[0].Length > 0
        && uses.GetValueOrDefault(relu.Output[0]) == 1 && !_outputs.Contains(relu.Output[0]);

    /// <summary>
    /// True when every window of the pool holds an element of its input: explicit pads of at most half the kernel
    /// (PyTorch's bound), or none (auto_pad's SAME pads are left alone: with a stride beyond the kernel they can pad
    /// more than it). A window of padding alone would give −∞ after a ReLU but 0 before one.
    /// </summary>
    private static bool EveryWindowHoldsInput(OnnxNode pool)
    {
        if (pool.String("auto_pad", "NOTSET") is not ("NOTSET" or "VALID")) return false;
        long[]? kernel = pool.Ints("kernel_shape"), pads = pool.Ints("pads");
        if (pads is null) return true;
        if (kernel is null || pads.Length != 2 * kernel.Length) return false;
        for (int i = 0; i < pads.Length; i++)
            if (pads[i] < 0 || 2 * pads[i] > kernel[i % kernel.Length]) return false;
        return true;
    }

    /// <summary>
    /// Relu then MaxPool, run as <see cref="Sequential"/> runs the pair: the pool first, then the ReLU on the pooled
    /// values (in place where nothing is recorded), a quarter of them behind a 2x2 or 3x3 stride-2 pool. Where every
    /// window holds an element of the input (<see cref="EveryWindowHoldsInput"/>) the outputs and the gradients are
    /// those of the pair as written (see Sequential.Forward).
    /// </summary>
    private static OnnxKernel PoolBeforeRelu(OnnxKernel relu, OnnxKernel pool) => (run, args) =>
    {
        var pooled = pool(run, args);
        return pooled[0]?.Tensor is { } p && p.DType.IsFloating() ? [OnnxValue.Of(Functional.Relu(p, inPlace: true))] : relu(run, pooled);
    };

    /// <summary>A Relu whose input is a new tensor only it reads: rectified in place where nothing is recorded.</summary>
    private static OnnxKernel InPlaceRelu(OnnxKernel relu) => (run, args) =>
        args[0]?.Tensor is { } x && x.DType == run.DType ? [OnnxValue.Of(Functional.Relu(x, inPlace: true))] : relu(run, args);

    /// <summary>
    /// True for a Conv whose only output is read by nothing but the BatchNormalization right after it, which has
    /// its four parameter inputs and one output: the pair whose evaluation can run as one folded convolution.
    /// </summary>
    private bool FoldsIntoConv(NodeProto conv, NodeProto norm, Dictionary<string, int> uses) =>
        conv.OpType == "Conv" && norm.OpType == "BatchNormalization" && conv.Output.Count == 1 && conv.Input.Count >= 2
        && norm.Input.Count == 5 && norm.Input.All(name => name.Length > 0) && norm.Input[0] == conv.Output[0]
        && norm.Output.Count(name => name.Length > 0) == 1 && norm.Output[0].Length > 0
        && uses.GetValueOrDefault(conv.Output[0]) == 1 && !_outputs.Contains(conv.Output[0]);

    /// <summary>The epsilon a BatchNormalization node normalises with (its kernel reads the same attribute).</summary>
    private static double ReadEpsilon(ModelProto model, NodeProto norm, string source) =>
        new OnnxNode(norm, OpsetOf(model, norm, source), source).Float("epsilon", 1e-5f);

    /// <summary>
    /// Conv then BatchNormalization: in evaluation with gradients off, one convolution with the batch norm folded into
    /// its weight and bias (<see cref="ConvBatchNormFolding"/>, cached until a parameter or statistic changes);
    /// otherwise the two kernels in turn, so training and gradients see the graph as written.
    /// </summary>
    private static OnnxKernel FusedConvBatchNorm(OnnxKernel conv, OnnxKernel norm, int convInputs, double eps)
    {
        var fold = new ConvBatchNormFolding();
        return (run, args) =>
        {
            var convArgs = args[..convInputs];
            var normArgs = args[convInputs..];
            if (TryFold(run, convArgs, normArgs, fold, eps) is var (w, b))
                return conv(run, [convArgs[0], OnnxValue.Of(w), OnnxValue.Of(b)]);
            var y = conv(run, convArgs);
            return norm(run, [y[0], .. normArgs]);
        };
    }

    /// <summary>
    /// The folded weight and bias of a Conv (<paramref name="convArgs"/>: input, weight, optional bias) and the
    /// BatchNormalization after it (<paramref name="normArgs"/>: scale, B, mean, var), where they may fold: evaluation,
    /// gradients off, every parameter a tensor of the run's dtype and the right shape. Null otherwise.
    /// </summary>
    private static (Tensor Weight, Tensor Bias)? TryFold(OnnxRun run, OnnxValue?[] convArgs, OnnxValue?[] normArgs, ConvBatchNormFolding fold, double eps)
    {
        Tensor? Param(OnnxValue? v) => v?.Tensor is { } t && t.DType == run.DType ? t : null;
        if (run.Training || GradMode.IsEnabled || Param(convArgs[1]) is not { Rank: 4 } weight
            || !normArgs.All(v => Param(v) is { Rank: 1 } t && t.Size(0) == weight.Size(0))
            || (convArgs.Length > 2 && convArgs[2] is not null && Param(convArgs[2]) is null))
            return null;
        var bias = convArgs.Length > 2 ? Param(convArgs[2]) : null;
        return fold.Folded(weight, bias, normArgs[2]!.Tensor!, normArgs[3]!.Tensor!, normArgs[0]!.Tensor, normArgs[1]!.Tensor, eps);
    }

    /// <summary>How many Conv → BatchNormalization pairs run as one folded convolution in evaluation.</summary>
    internal int FusedConvBatchNormPairs { get; }

    /// <summary>How many Conv (→ BatchNormalization) → Relu chains run as one convolution that rectifies its output.</summary>
    internal int FusedConvRelus { get; }

    /// <summary>How many Conv (→ BatchNormalization) → Add → Relu chains (residual joins) run as one convolution.</summary>
    internal int FusedConvJoins { get; }

    /// <summary>How many Add → Relu pairs run as one pass in inference.</summary>
    internal int FusedAddReluPairs { get; }

    /// <summary>How many Relu nodes rectify their input in place in inference.</summary>
    internal int InPlaceRelus { get; }

    /// <summary>How many Conv (→ BatchNormalization) → Relu → MaxPool chains (stems) run as one call.</summary>
    internal int FusedConvReluPools { get; }

    /// <summary>How many Relu → MaxPool pairs run pool first (<see cref="PoolBeforeRelu"/>).</summary>
    internal int ReluAfterPools { get; }

    /// <summary>Where the model came from (its file path, or the name given for a stream).</summary>
    public string Source { get; }

    /// <summary>The model's opset for the default ONNX domain.</summary>
    public int Opset { get; }

    /// <summary>The graph inputs (initializers excluded), with their element types and declared shapes.</summary>
    public IReadOnlyList<OnnxTensorInfo> Inputs => _inputs;

    /// <summary>The graph output names; <see cref="Forward"/> returns the first.</summary>
    public IReadOnlyList<string> OutputNames => _outputs;

    /// <summary>The Fovea parameter or buffer name (dotted path in <see cref="Module.NamedParameters"/>) of each ONNX initializer that became one.</summary>
    public IReadOnlyDictionary<string, string> ParameterNames => _parameterNames;

    /// <summary>The model's metadata_props (key → value), e.g. class names a producer stored.</summary>
    public IReadOnlyDictionary<string, string> Metadata => Proto.MetadataProps.GroupBy(p => p.Key).ToDictionary(g => g.Key, g => g.Last().Value);

    /// <summary>The parsed model (for export).</summary>
    internal ModelProto Proto { get; }

    /// <inheritdoc />
    public override string Describe() => $"OnnxModule({Path.GetFileName(Source)}, opset {Opset}, {_nodes.Count} nodes)";

    /// <summary>Runs the graph on its single input and returns its first output.</summary>
    public override Tensor Forward(Tensor input)
    {
        if (_inputs.Count != 1)
            throw new ArgumentException($"{Source}: the model has {_inputs.Count} inputs ({string.Join(", ", _inputs.Select(i => i.Name))}); call Run with each by name");
        return Run(new Dictionary<string, Tensor> { [_inputs[0].Name] = input })[_outputs[0]];
    }

    /// <summary>Runs the graph on named inputs and returns every graph output by name.</summary>
    public IReadOnlyDictionary<string, Tensor> Run(IReadOnlyDictionary<string, Tensor> inputs)
    {
        var env = new Dictionary<string, OnnxValue>();
        foreach (var (name, value) in _constants) env[name] = value;
        foreach (var (name, get) in _weights) env[name] = OnnxValue.Of(get());
        DType? dtype = null;
        foreach (var info in _inputs)
        {
            if (!inputs.TryGetValue(info.Name, out var x))
                throw new ArgumentException($"{Source}: input '{info.Name}' is missing");
            info.Check(x, Source);
            env[info.Name] = OnnxValue.Of(x);
            dtype ??= x.DType;
        }
        foreach (var name in inputs.Keys)
            if (!_inputs.Any(i => i.Name == name)) throw new ArgumentException($"{Source}: the model has no input '{name}'");
        var run = new OnnxRun(dtype ?? DType.Float32, Training);
        // Nothing is recorded in inference, so a value's last reader is its last user: its buffer can serve a later node.
        bool recycle = !GradMode.IsEnabled;
        foreach (var node in _nodes)
        {
            var args = node.Inputs.Select(name => name.Length == 0 ? null : env[name]).ToArray();
            OnnxValue[] results;
            try
            {
                results = node.Kernel(run, args);
            }
            catch (ShapeException e)
            {
                throw new ArgumentException($"{node.Where}: {e.Message}", e);
            }
            for (int k = 0; k < node.Outputs.Length; k++)
                if (node.Outputs[k].Length > 0)
                    env[node.Outputs[k]] = k < results.Length ? results[k] : throw new OnnxImportException($"{node.Where}: output {k} is not computed");
            foreach (var name in node.Release)
                if (env.Remove(name, out var dead) && recycle && dead.Tensor is { } tensor && !SharesStorage(env, tensor)) StoragePool.Recycle(tensor);
        }
        return _outputs.ToDictionary(o => o, o => env[o].AsTensor(run.DType));
    }

    /// <summary>
    /// Whether a value still in <paramref name="env"/> (an input, a weight, a constant, a live intermediate) shares
    /// <paramref name="tensor"/>'s storage: a view (Flatten, Reshape, Identity) or a Relu computed in place on it.
    /// </summary>
    private static bool SharesStorage(Dictionary<string, OnnxValue> env, Tensor tensor)
    {
        foreach (var value in env.Values)
            if (value.Tensor is { } other && ReferenceEquals(other.Storage, tensor.Storage)) return true;
        return false;
    }

    private static int DefaultOpset(ModelProto model, string source)
    {
        foreach (var o in model.OpsetImport)
            if (o.Domain is "" or "ai.onnx") return (int)Math.Clamp(o.Version, 0, int.MaxValue);
        if (model.OpsetImport.Count == 0) return 1; // IR 1–2 files without opset_import mean opset 1
        throw new OnnxImportException($"{source}: the model imports no opset of the default ONNX domain (it uses {string.Join(", ", model.OpsetImport.Select(o => o.Domain))})");
    }

    private static int OpsetOf(ModelProto model, NodeProto node, string source)
    {
        if (node.Domain is "" or "ai.onnx") return DefaultOpset(model, source);
        throw new OnnxImportException($"{source}: node '{node.Name}' ({node.OpType}) is in the operator domain '{node.Domain}', which Fovea does not import");
    }

    /// <summary>Registers an initializer, nesting dotted names as child modules so the names survive (a.b.weight).</summary>
    private void Register(string onnxName, Tensor value, bool buffer)
    {
        var parts = onnxName.Split('.');
        if (parts.Length > 1 && parts.All(p => p.Length > 0) && TryRegisterNested(parts, value, buffer, out var getter))
        {
            _weights[onnxName] = getter;
            _parameterNames[onnxName] = onnxName;
            return;
        }
        // A name that cannot nest (empty segments, or a segment that is already a tensor) is registered flat.
        string flat = onnxName.Replace('.', '_');
        if (flat.Length == 0) flat = "_";
        while (NamedParameters().Any(p => p.Name == flat) || NamedBuffers().Any(b => b.Name == flat) || NamedChildren().Any(c => c.Name == flat))
            flat += "_";
        var t = buffer ? RegisterBuffer(flat, value) : RegisterParameter(flat, value);
        _weights[onnxName] = buffer ? () => GetBuffer(flat) : () => GetParameter(flat);
        _parameterNames[onnxName] = flat;
    }

    private bool TryRegisterNested(string[] parts, Tensor value, bool buffer, out Func<Tensor> getter)
    {
        getter = null!;
        Module scope = this;
        for (int k = 0; k < parts.Length - 1; k++)
        {
            var child = scope.NamedChildren().FirstOrDefault(c => c.Name == parts[k]).Module;
            if (child is null)
            {
                if (scope.NamedParameters().Any(p => p.Name == parts[k]) || scope.NamedBuffers().Any(b => b.Name == parts[k])) return false;
                child = scope is OnnxModule root ? root.RegisterModule(parts[k], new OnnxScope()) : ((OnnxScope)scope).Add(parts[k], new OnnxScope());
            }
            if (child is not OnnxScope) return false;
            scope = child;
        }
        var leaf = (OnnxScope)scope;
        string last = parts[^1];
        if (leaf.NamedChildren().Any(c => c.Name == last) || leaf.Has(last)) return false;
        leaf.AddTensor(last, value, buffer);
        getter = () => leaf.Get(last);
        return true;
    }
}

/// <summary>A level of dotted parameter names in an imported model (<c>layer1</c> in <c>layer1.0.conv1.weight</c>).</summary>
public sealed class OnnxScope : Module
{
    private readonly Dictionary<string, bool> _isBuffer = [];

    internal OnnxScope() { }

    internal OnnxScope Add(string name, OnnxScope child) => RegisterModule(name, child);

    internal bool Has(string name) => _isBuffer.ContainsKey(name);

    internal void AddTensor(string name, Tensor value, bool buffer)
    {
        if (buffer) RegisterBuffer(name, value);
        else RegisterParameter(name, value);
        _isBuffer[name] = buffer;
    }

    internal Tensor Get(string name) => _isBuffer[name] ? GetBuffer(name) : GetParameter(name);
}
