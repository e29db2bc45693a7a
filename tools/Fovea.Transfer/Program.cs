using System.Diagnostics;
using System.Globalization;
using Fovea;
using Fovea.NN;
using Fovea.Onnx;
using Fovea.Optim;
using Fovea.Vision.Datasets;
using Fovea.Vision.Models;

// Transfer learning, measured: with a few labelled images per class, (a) the pretrained ImageNet ResNet-18's frozen
// features + a new linear head, (b) the same ResNet-18 architecture (Fovea's zoo resnet18) trained from scratch, (c)
// fmnist_cnn trained from scratch. For (a) the images are upscaled to 224² RGB; a frozen body gives each image the same
// features every epoch, so they are computed once and the head trains on them (the same result as training through
// the frozen network, in a fraction of the time). Prints one Markdown row per model.
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i]] = args[i + 1];
int Opt(string name, int fallback) => opts.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
int classes = Opt("--classes", 10), perClass = Opt("--per-class", 100), testPerClass = Opt("--test-per-class", 50);
int headEpochs = Opt("--head-epochs", 100), scratchEpochs = Opt("--epochs", 15), batch = Opt("--batch-size", 32);
ulong seed = (ulong)Opt("--seed", 1);

var data = FashionMnist.Load(opts.GetValueOrDefault("--data"));
var (trainX, trainY) = Subset(data.TrainImages, data.TrainLabels, classes, perClass);
var (testX, testY) = Subset(data.TestImages, data.TestLabels, classes, testPerClass);
Console.WriteLine($"Fashion-MNIST classes 0-{classes - 1}: {trainY.Length} training images ({perClass} per class), {testY.Length} test images ({testPerClass} per class); {Environment.ProcessorCount} cores");
Console.WriteLine("| model | input | trained | epochs | test accuracy | training time | of which feature extraction |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");

// (a) Pretrained features + linear head.
{
    var sw = Stopwatch.StartNew();
    var clf = PretrainedModels.ResNet18Classifier(classes, generator: new Generator(seed));
    var trainF = Features(clf, trainX);
    double extract = sw.Elapsed.TotalSeconds;
    var head = Fit(clf.Head, trainF, trainY, headEpochs, batch, seed);
    double total = sw.Elapsed.TotalSeconds;
    var testF = Features(clf, testX);
    double acc = Accuracy(clf.Head, testF, testY);
    Console.WriteLine($"| (a) pretrained ResNet-18 features + linear head | 224² RGB (upscaled) | head only (5,130 parameters) | {headEpochs} | {acc:P1} | {total:F0} s | {extract:F0} s |");
}

// (b) ResNet-18 from scratch and (c) fmnist_cnn from scratch, at the native 28².
foreach (var (label, name) in new[] { ("(b) ResNet-18 from scratch", "resnet18"), ("(c) fmnist_cnn from scratch", "fmnist_cnn") })
{
    var sw = Stopwatch.StartNew();
    var model = ModelZoo.Create(name, 1, classes, 28, new Generator(seed));
    Fit(model, trainX, trainY, scratchEpochs, batch, seed);
    double total = sw.Elapsed.TotalSeconds;
    double acc = Accuracy(model, testX, testY);
    Console.WriteLine($"| {label} | 28² gray (native) | all ({model.ParameterCount():N0} parameters) | {scratchEpochs} | {acc:P1} | {total:F0} s | — |");
}
return 0;

static (Tensor X, int[] Y) Subset(Tensor images, Tensor labels, int classes, int perClass)
{
    var y = labels.To(DType.Int32).ToArray<int>();
    var picked = new List<int>();
    var count = new int[classes];
    for (int i = 0; i < y.Length && picked.Count < classes * perClass; i++)
        if (y[i] < classes && count[y[i]] < perClass)
        {
            count[y[i]]++;
            picked.Add(i);
        }
    var x = images.IndexSelect(0, Tensor.From([.. picked]));
    if (x.Rank == 3) x = x.Unsqueeze(1);
    if (x.DType != DType.Float32) x = x.To(DType.Float32);
    if (x.Max().Item<float>() > 1.5f) x = x.Div(255.0);
    return (x.Contiguous(), [.. picked.Select(i => y[i])]);
}

static Tensor Features(PretrainedClassifier clf, Tensor images)
{
    var parts = new List<Tensor>();
    for (int s = 0; s < images.Size(0); s += 16)
        parts.Add(clf.ExtractFeatures(images.Narrow(0, s, Math.Min(16, images.Size(0) - s))));
    return Tensor.Cat(parts, 0);
}

static Module<Tensor, Tensor> Fit(Module<Tensor, Tensor> model, Tensor x, int[] y, int epochs, int batch, ulong seed)
{
    var opt = new Adam(model.Parameters().Where(p => p.RequiresGrad), lr: 1e-3);
    var rng = new Random((int)seed);
    int n = y.Length;
    for (int e = 0; e < epochs; e++)
    {
        model.Train();
        var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        for (int s = 0; s < n; s += batch)
        {
            var idx = order.Skip(s).Take(batch).ToArray();
            opt.ZeroGrad();
            var loss = Functional.CrossEntropy(model.Forward(x.IndexSelect(0, Tensor.From(idx))), Tensor.From([.. idx.Select(i => y[i])]));
            loss.Backward();
            opt.Step();
        }
    }
    return model;
}

static double Accuracy(Module<Tensor, Tensor> model, Tensor x, int[] y)
{
    model.Eval();
    using var _ = GradMode.Disable();
    int correct = 0;
    for (int s = 0; s < y.Length; s += 64)
    {
        int len = Math.Min(64, y.Length - s);
        var pred = model.Forward(x.Narrow(0, s, len)).Argmax(1).ToArray<int>();
        for (int k = 0; k < len; k++) if (pred[k] == y[s + k]) correct++;
    }
    return (double)correct / y.Length;
}
