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
// the frozen network, in a fraction of the time). (b) sees the same 224² RGB images as (a) unless --scratch-size 28 asks
// for the native gray 28²; the upscaling is done per batch. --rows picks the rows to run (e.g. --rows bc). Prints one
// Markdown row per model, and each epoch's time and loss on stderr.
var opts = new Dictionary<string, string>(StringComparer.Ordinal);
for (int i = 0; i + 1 < args.Length; i += 2) opts[args[i]] = args[i + 1];
int Opt(string name, int fallback) => opts.TryGetValue(name, out var v) ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
int classes = Opt("--classes", 10), perClass = Opt("--per-class", 100), testPerClass = Opt("--test-per-class", 50);
int headEpochs = Opt("--head-epochs", 100), scratchEpochs = Opt("--epochs", 15), batch = Opt("--batch-size", 32);
ulong seed = (ulong)Opt("--seed", 1);
string rows = opts.GetValueOrDefault("--rows", "abc");
int scratchSize = Opt("--scratch-size", PretrainedModels.ResNet18ImageSize);

var data = FashionMnist.Load(opts.GetValueOrDefault("--data"));
var (trainX, trainY) = Subset(data.TrainImages, data.TrainLabels, classes, perClass);
var (testX, testY) = Subset(data.TestImages, data.TestLabels, classes, testPerClass);
Console.WriteLine($"Fashion-MNIST classes 0-{classes - 1}: {trainY.Length} training images ({perClass} per class), {testY.Length} test images ({testPerClass} per class); {Environment.ProcessorCount} cores");
Console.WriteLine("| model | input | trained | epochs | test accuracy | training time | of which feature extraction |");
Console.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");

// (a) Pretrained features + linear head.
if (rows.Contains('a', StringComparison.Ordinal))
{
    var sw = Stopwatch.StartNew();
    var clf = PretrainedModels.ResNet18Classifier(classes, generator: new Generator(seed));
    var trainF = Features(clf, trainX);
    double extract = sw.Elapsed.TotalSeconds;
    Fit(clf.Head, trainF, trainY, headEpochs, batch, seed, x => x);
    double total = sw.Elapsed.TotalSeconds;
    var testF = Features(clf, testX);
    double acc = Accuracy(clf.Head, testF, testY);
    Console.WriteLine($"| (a) pretrained ResNet-18 features + linear head | 224² RGB (upscaled) | head only (5,130 parameters) | {headEpochs} | {acc:P1} | {total:F0} s | {extract:F0} s |");
}

// (b) ResNet-18 from scratch, at 224² RGB as (a) sees the images (or --scratch-size 28: the native gray 28²), and (c)
// fmnist_cnn from scratch at the native 28².
foreach (var (row, label, name, size) in new[] { ('b', "(b) ResNet-18 from scratch", "resnet18", scratchSize), ('c', "(c) fmnist_cnn from scratch", "fmnist_cnn", 28) })
{
    if (!rows.Contains(row, StringComparison.Ordinal)) continue;
    bool upscale = size != 28;
    Func<Tensor, Tensor> prepare = upscale ? x => Upscale(x, size) : x => x;
    var model = ModelZoo.Create(name, upscale ? 3 : 1, classes, size, new Generator(seed));
    // Each epoch's test accuracy goes to stderr too, so that a run stopped early still tells where it had got to.
    double total = Fit(model, trainX, trainY, scratchEpochs, batch, seed, prepare, () => Accuracy(model, testX, testY, prepare));
    double acc = Accuracy(model, testX, testY, prepare);
    string input = upscale ? $"{size}² RGB (upscaled)" : "28² gray (native)";
    Console.WriteLine($"| {label} | {input} | all ({model.ParameterCount():N0} parameters) | {scratchEpochs} | {acc:P1} | {total:F0} s | — |");
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

// Gray 28² images in [0, 1] as (a)'s classifier sees them before its preprocessing: bilinear to size², 3 channels.
static Tensor Upscale(Tensor x, int size) =>
    Functional.Interpolate(x, (size, size), mode: InterpolationMode.Bilinear, alignCorners: false).Expand(x.Size(0), 3, size, size).Contiguous();

static Tensor Features(PretrainedClassifier clf, Tensor images)
{
    var parts = new List<Tensor>();
    for (int s = 0; s < images.Size(0); s += 16)
        parts.Add(clf.ExtractFeatures(images.Narrow(0, s, Math.Min(16, images.Size(0) - s))));
    return Tensor.Cat(parts, 0);
}

// Returns the seconds spent training (the per-epoch test evaluations excluded).
static double Fit(Module<Tensor, Tensor> model, Tensor x, int[] y, int epochs, int batch, ulong seed, Func<Tensor, Tensor> prepare, Func<double>? testAccuracy = null)
{
    var opt = new Adam(model.Parameters().Where(p => p.RequiresGrad), lr: 1e-3);
    var rng = new Random((int)seed);
    int n = y.Length;
    double trainingSeconds = 0;
    for (int e = 0; e < epochs; e++)
    {
        var epochTime = Stopwatch.StartNew();
        double lossSum = 0;
        int batches = 0;
        model.Train();
        var order = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
        for (int s = 0; s < n; s += batch)
        {
            var idx = order.Skip(s).Take(batch).ToArray();
            opt.ZeroGrad();
            var loss = Functional.CrossEntropy(model.Forward(prepare(x.IndexSelect(0, Tensor.From(idx)))), Tensor.From([.. idx.Select(i => y[i])]));
            loss.Backward();
            opt.Step();
            lossSum += loss.Item<float>();
            batches++;
            if (e == 0 && batches <= 3) Console.Error.WriteLine($"  {model.GetType().Name} batch {batches}: {epochTime.Elapsed.TotalSeconds:F1} s since the epoch began");
        }
        double seconds = epochTime.Elapsed.TotalSeconds;
        trainingSeconds += seconds;
        string test = testAccuracy is null ? "" : $", test accuracy {testAccuracy():P1}";
        Console.Error.WriteLine($"  {model.GetType().Name} epoch {e + 1}/{epochs}: loss {lossSum / batches:F4}, {seconds:F1} s{test}");
    }
    return trainingSeconds;
}

static double Accuracy(Module<Tensor, Tensor> model, Tensor x, int[] y, Func<Tensor, Tensor>? prepare = null)
{
    model.Eval();
    using var _ = GradMode.Disable();
    int correct = 0;
    for (int s = 0; s < y.Length; s += 64)
    {
        int len = Math.Min(64, y.Length - s);
        var pred = model.Forward((prepare ?? (t => t))(x.Narrow(0, s, len))).Argmax(1).ToArray<int>();
        for (int k = 0; k < len; k++) if (pred[k] == y[s + k]) correct++;
    }
    return (double)correct / y.Length;
}
