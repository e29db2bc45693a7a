using Fovea.Vision.Datasets;
using Fovea.Vision.Imaging;
using Fovea.Vision.Training;

namespace Fovea.Vision.Tests.Training;

public class EvaluationAndExperimentTests
{
    [Fact]
    public void ConfusionMatrix_AccuracyAndPerClassAccuracy()
    {
        int[] targets = [0, 0, 1, 1, 2, 2];
        int[] preds = [0, 1, 1, 1, 0, 2];
        var m = Evaluation.ConfusionMatrix(targets, preds, 4);
        Assert.Equal(1, m[0, 1]);
        Assert.Equal(2, m[1, 1]);
        Assert.Equal(4.0 / 6, Evaluation.Accuracy(m), 12);
        var per = Evaluation.PerClassAccuracy(m);
        Assert.Equal([0.5, 1.0, 0.5], per.Take(3));
        Assert.True(double.IsNaN(per[3]));
    }

    [Fact]
    public void Predictions_AndCorrect_UseTheArgMax()
    {
        var logits = Tensor.FromArray(new float[] { 1, 3, 2, 5, 0, 1 }, 2, 3);
        Assert.Equal([1, 0], Evaluation.Predictions(logits));
        Assert.Equal(1, Evaluation.Correct(logits, Tensor.From(1, 2)));
    }

    [Fact]
    public void TopK_GivesSoftmaxProbabilities_BestFirst()
    {
        var top = Evaluation.TopK(Tensor.From(0.0, Math.Log(2), Math.Log(5)), 2);
        Assert.Equal(2, top[0].Class);
        Assert.Equal(5.0 / 8, top[0].Probability, 12);
        Assert.Equal(1, top[1].Class);
        Assert.Equal(2.0 / 8, top[1].Probability, 12);
    }

    [Fact]
    public void Xor_IsLearnedCompletely()
    {
        var r = Experiments.Xor();
        Assert.Equal(4, r.Correct);
        Assert.True(r.Loss < 0.01);
        Assert.Equal((240, 270), (r.Picture.Width, r.Picture.Height));
    }

    [Theory]
    [InlineData("square", 0.01)]
    [InlineData("step", 0.05)]
    public void Fit_FollowsTheFunction(string function, double maxLoss)
    {
        var r = Experiments.Fit(function, 3, steps: 2000);
        Assert.Equal(50, r.X.Length);
        Assert.True(r.X.All(x => x > -1 && x < 1));
        Assert.True(r.Loss < maxLoss, $"loss {r.Loss}");
    }

    [Fact]
    public void Inpaint_RestoresTheHoleBetterThanTheMaskedInput()
    {
        var r = Experiments.Inpaint(TrainerTests.Sample, trainSamples: 1000, epochs: 3, hidden: 128, testSamples: 200);
        Assert.True(r.HoleLoss < 0.7 * r.HoleBaseline, $"hole MSE {r.HoleLoss} vs masked input {r.HoleBaseline}");
        string path = Path.Combine(Path.GetTempPath(), $"inpaint-{Guid.NewGuid():N}.png");
        try
        {
            r.Picture.Save(path);
            var png = ImageIO.Load(path);
            Assert.Equal(r.Picture.Width, png.Width);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Canvas_DrawsText_AndChartsHaveRoundTicks()
    {
        var c = new Canvas(40, 12);
        c.Text(0, 0, "A1", Rgb.Black, 1);
        Assert.Equal(Rgb.Black, c.Get(1, 0)); // top of the A
        Assert.Equal(Rgb.White, c.Get(0, 0));
        Assert.Equal([0.0, 0.2, 0.4, 0.6, 0.8, 1.0], Charts.Ticks(0, 1, 5).Select(t => Math.Round(t, 9)));
    }
}

public class TrainingIntegrationTests
{
    [Fact]
    public void ShortRealTraining_LowersTheLoss_AndBeatsChanceByFar()
    {
        // CI installs Debian's dataset-fashion-mnist; a fresh clone without it trains on the committed sample.
        bool real = Directory.Exists(FashionMnist.DebianDirectory) && FashionMnist.Locate(FashionMnist.DebianDirectory) is not null;
        var data = real ? FashionMnist.Load(FashionMnist.DebianDirectory) : TrainerTests.Sample;
        string dir = Path.Combine(Path.GetTempPath(), $"fovea-integration-{Guid.NewGuid():N}");
        try
        {
            // LeNet-5, the README's recipe (SGD 0.01, momentum 0.9, batch 64): 300 batches on the real data, 10 epochs of the sample.
            var options = new TrainOptions
            {
                Model = "lenet5",
                Optimizer = "sgd",
                Lr = 0.01,
                Momentum = 0.9,
                BatchSize = 64,
                OutDir = dir,
                Epochs = real ? 1 : 10,
                MaxBatches = real ? 300 : null,
                TestLimit = real ? 2000 : null,
            };
            var trainer = Trainer.Create(options, data);
            var losses = new List<double>();
            var result = trainer.Run(new Reporter(p => losses.Add(p.Loss)));
            Assert.True(losses.Count >= 150, $"{losses.Count} batches");
            double early = losses.Take(20).Average(), late = losses.TakeLast(20).Average();
            Assert.True(late < 0.6 * early, $"loss fell only from {early:0.000} to {late:0.000}");
            Assert.True(result.History[^1].TestAccuracy > (real ? 0.6 : 0.4), $"test accuracy {result.History[^1].TestAccuracy:0.000} ({(real ? "full dataset" : "sample")})");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class Reporter(Action<BatchProgress> report) : IProgress<BatchProgress>
    {
        public void Report(BatchProgress value) => report(value);
    }
}
