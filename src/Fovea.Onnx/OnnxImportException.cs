namespace Fovea.Onnx;

/// <summary>A node Fovea cannot run: an unsupported operator, attribute or input, or one whose values break the operator's rules.</summary>
public sealed class OnnxImportException : NotSupportedException
{
    /// <summary>Creates the exception with its one-line message.</summary>
    public OnnxImportException(string message) : base(message) { }

    /// <summary>Creates the exception with its one-line message and the error that caused it.</summary>
    public OnnxImportException(string message, Exception inner) : base(message, inner) { }
}
