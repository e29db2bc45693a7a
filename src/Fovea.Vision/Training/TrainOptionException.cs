namespace Fovea.Vision.Training;

/// <summary>
/// A training option that cannot be honoured as asked: it contradicts the checkpoint being resumed, or it does not fit
/// the model (a <c>--freeze</c> prefix that names no parameter, an <c>--init-from</c> checkpoint of another model).
/// The message starts with the option and its value. The <c>fovea</c> command reports it as a command-line mistake (exit 2).
/// </summary>
public sealed class TrainOptionException(string message) : ArgumentException(message);
