using Fovea;
using Fovea.Backends;
using Fovea.Vision;
using Fovea.Vision.Imaging;
using Fovea.Vision.Tests.Imaging;

// A namespace of its own, as user code has: inside Fovea.Vision.Tests the test folders Pyramids/ and Matching/ would shadow the classes.
namespace FoveaDocs;

/// <summary>The API snippet of the README's multi-scale vision section, run on the test images, so the documented calls keep compiling and working.</summary>
public class DocsExampleTests
{
    [Fact]
    public void TheDocumentedSnippetRuns()
    {
        Tensor a = ImageIO.Load(ImageIOTests.DataPath("chelsea.png")).ToTensor().Narrow(1, 0, 96).Narrow(2, 0, 128).Contiguous();
        Tensor b = ImageIO.Load(ImageIOTests.DataPath("chelsea.png")).ToTensor().Narrow(1, 100, 96).Narrow(2, 200, 128).Contiguous();

        Tensor half = Pyramids.PyrDown(a);
        Tensor up = Pyramids.PyrUp(half, (a.Size(1), a.Size(2)));
        Tensor[] gauss = Pyramids.GaussianPyramid(a, 5);
        Tensor[] lap = Pyramids.LaplacianPyramid(a, 5);
        Tensor back = Pyramids.Reconstruct(lap);
        Tensor mask = Tensor.Ones(a.Size(1), a.Size(2));
        Tensor blended = Pyramids.Blend(a, b, mask, levels: 5);
        Assert.Equal([3, 48, 64], half.Shape);
        Assert.Equal(a.Shape, up.Shape);
        Assert.Equal([3, 6, 8], gauss[4].Shape);
        Assert.True((back - a).Abs().Max().ToScalar() <= 1e-5);
        Assert.True((blended - a).Abs().Max().ToScalar() <= 1e-5);

        SteerableBasis basis = SteerableFilter.Basis(a, sigma: 2);
        Tensor edges30 = basis.Steer(30 * Math.PI / 180);
        var sp = SteerablePyramid.Build(a, scales: 3, orientations: 4);
        Tensor band = sp.Band(1, 2);
        Tensor same = sp.Reconstruct();
        Assert.Equal(a.Shape, edges30.Shape);
        Assert.Equal([3, 48, 64], band.Shape);
        Assert.True((same - a).Abs().Max().ToScalar() <= 1e-5);

        Tensor gray = Grayscale.ToGray(ImageIO.Load(ImageIOTests.DataPath("coins.png"))).ToTensor();
        Tensor templ = gray.Narrow(1, 170, 50).Narrow(2, 75, 55).Contiguous();
        Tensor scores = Matching.MatchTemplate(gray, templ);
        Peak[] best = Matching.FindPeaks(scores, k: 5, minDistance: 20);
        Assert.Equal((75, 170), (best[0].X, best[0].Y));
        Assert.Equal(5, best.Length);
    }
}
