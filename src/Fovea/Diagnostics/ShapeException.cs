namespace Fovea;

/// <summary>
/// Thrown when tensor shapes break an op's rule. The message names the op, the rule, both shapes
/// and the offending dimension, e.g. <c>matmul: inner dimensions must match, got [2, 3] @ [4, 5] (3 != 4)</c>.
/// </summary>
public sealed class ShapeException : ArgumentException
{
    /// <summary>The op whose rule was broken.</summary>
    public string Op { get; }

    /// <summary>Creates the exception for <paramref name="op"/> with the full message.</summary>
    public ShapeException(string op, string message) : base($"{op}: {message}") => Op = op;
}

/// <summary>Thrown when an op receives a dtype it does not support, or two dtypes that differ.</summary>
public sealed class DTypeException : ArgumentException
{
    /// <summary>Creates the exception for <paramref name="op"/>.</summary>
    public DTypeException(string op, string message) : base($"{op}: {message}") { }
}
