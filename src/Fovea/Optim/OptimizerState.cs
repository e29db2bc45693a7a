namespace Fovea.Optim;

/// <summary>
/// Everything an optimizer needs to resume bit-identically (PyTorch's <c>optimizer.state_dict()</c>): the
/// hyper-parameters of every group and each parameter's state (momentum buffers, moment estimates, step
/// counts). Parameters are identified by their position across all groups in order, not by identity, so
/// the state loads into a fresh optimizer built over a fresh model of the same architecture.
/// The tensors are copies: stepping the optimizer afterwards does not change a saved state.
/// </summary>
public sealed class OptimizerState
{
    /// <summary>Name of the optimizer that saved the state (<c>Sgd</c>, <c>Adam</c>, <c>AdamW</c>, <c>RMSprop</c>).</summary>
    public required string Optimizer { get; init; }

    /// <summary>One entry per parameter group.</summary>
    public List<ParamGroupState> ParamGroups { get; } = [];

    /// <summary>Per-parameter state by global parameter index; parameters never updated have no entry.</summary>
    public Dictionary<int, Dictionary<string, Tensor>> State { get; } = [];
}

/// <summary>One saved parameter group: its options under PyTorch's names and the global indices of its parameters.</summary>
/// <param name="Options">Hyper-parameters (<c>lr</c>, <c>weight_decay</c>, <c>momentum</c>, <c>beta1</c>, ...); booleans are 0 or 1.</param>
/// <param name="Params">Global indices of the group's parameters.</param>
public sealed record ParamGroupState(Dictionary<string, double> Options, int[] Params);
