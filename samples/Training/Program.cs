using Fovea;
using Fovea.Data;
using Fovea.NN;
using Fovea.Optim;
using Fovea.Vision.Datasets;

// Fashion-MNIST from the folder given as the first argument (the repository has a 1,000-image sample in
// tests/Fovea.Vision.Tests/Data/fashion-mnist-sample), else from $FOVEA_DATA, Debian's package or the user cache.
var data = FashionMnist.Load(dataDir: args.Length > 0 ? args[0] : null);

var g = new Generator(0);
var model = new Sequential(
    new Conv2d(1, 6, 5, padding: 2, generator: g), new ReLU(), new MaxPool2d(2),
    new Conv2d(6, 16, 5, generator: g), new ReLU(), new MaxPool2d(2),
    new Flatten(), new Linear(16 * 5 * 5, 120, generator: g), new ReLU(), new Linear(120, 10, generator: g));
Console.WriteLine(model.Summary([1, 1, 28, 28]));  // shapes, parameters, multiply-adds, memory, receptive field

var optimizer = new Sgd(model.Parameters(), lr: 0.01, momentum: 0.9);
var lossFn = new CrossEntropyLoss();
var loader = DataLoader.FromTensors(data.TrainImages, data.TrainLabels, batchSize: 64, shuffle: true, seed: 1);
for (int epoch = 1; epoch <= 10; epoch++)
{
    loader.Epoch = epoch;
    double lossSum = 0;
    int batches = 0;
    model.Train();
    foreach (var (images, labels) in loader)
    {
        optimizer.ZeroGrad();
        var loss = lossFn.Forward(model.Forward(images), labels);
        loss.Backward();
        optimizer.Step();
        lossSum += loss.ToScalar();
        batches++;
    }
    Console.WriteLine($"epoch {epoch}: train loss {lossSum / batches:F4}, test accuracy {Accuracy(model, data.TestImages, data.TestLabels):P1}");
}

double accuracy = Accuracy(model, data.TestImages, data.TestLabels);
Console.WriteLine(accuracy > 0.6 ? "the model learned: test accuracy above 60%" : $"the model did not learn: test accuracy {accuracy:P1}");
return accuracy > 0.6 ? 0 : 1;

// The fraction of images whose highest-scoring class is the label.
static double Accuracy(Sequential model, Tensor images, Tensor labels)
{
    model.Eval();
    using (GradMode.Disable())
    {
        var predicted = model.Forward(images).Argmax(1);
        return predicted.Eq(labels).To(DType.Float32).Mean().ToScalar();
    }
}
