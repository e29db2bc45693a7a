namespace Fovea.Bench;

/// <summary>
/// Every benchmark case provider, in print order. To add cases (conv, pyramids, training epochs), write one
/// file with a <see cref="BenchCase"/> subclass and a static provider, and add one line here.
/// </summary>
public static class Registry
{
    /// <summary>The providers; each is called once and yields its cases.</summary>
    public static readonly Func<IEnumerable<BenchCase>>[] Providers =
    [
        SgemmCase.All,
        AutogradChainCase.All,
        BatchNorm2dCase.All,
        ChannelOpCase.All,
        Conv2dCase.All,
        MaxPool2dCase.All,
        TrainingEpochCase.All,
        VisionCases.All,
        RetrievalCase.All,
        ImageFolderEpochCase.All,
        InProcessAllReduceCase.All,
        ResNet18OnnxCase.All,
    ];
}
