namespace Fovea.NN;

public interface IReceptiveField { int Kernel { get; } int Stride { get; } int Padding { get; } int Dilation { get; } }
