using System.Text.Json.Serialization;
using Fovea.Optim;
using Fovea.Training;
using Fovea.Vision.Training;

namespace Fovea.Vision.Serialization;

/// <summary>
/// Compile-time JSON metadata for what a checkpoint's metadata holds under .NET's default names: class names, the
/// optimizer's parameter groups (<c>{"options": {...}, "params": [...]}</c>) and the scheduler's state. Generated
/// serializers instead of reflection keep the library trimmable and Native-AOT compatible.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<ParamGroupState>))]
[JsonSerializable(typeof(IReadOnlyDictionary<string, double>))]
internal sealed partial class CheckpointJsonContext : JsonSerializerContext;

/// <summary>
/// Compile-time JSON metadata for the trainer's records (arguments, per-epoch metrics, an interrupted epoch), in
/// snake_case, with NaN and infinities written as named literals so a diverged run still records its numbers.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)]
[JsonSerializable(typeof(TrainOptions))]
[JsonSerializable(typeof(EpochMetrics))]
[JsonSerializable(typeof(List<EpochMetrics>))]
[JsonSerializable(typeof(EpochPosition))]
internal sealed partial class TrainerJsonContext : JsonSerializerContext;
