namespace Fovea.Onnx.Import;

/// <summary>What a compiled node needs at run time besides its inputs.</summary>
/// <param name="DType">The floating dtype of the run (the graph input's), for constants made into tensors.</param>
/// <param name="Training">The module's training mode: batch norm uses batch statistics and dropout drops.</param>
internal sealed record OnnxRun(DType DType, bool Training);

/// <summary>
/// A compiled node: attributes were read and checked when the model was imported; the kernel maps the input values
/// (null for an omitted optional input) to the output values with Fovea ops.
/// </summary>
internal delegate OnnxValue[] OnnxKernel(OnnxRun run, OnnxValue?[] inputs);
