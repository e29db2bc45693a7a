using Fovea;

var x = Tensor.Scalar(-2, DType.Float64).RequiresGrad_();
var y = Tensor.Scalar(5, DType.Float64).RequiresGrad_();
var z = Tensor.Scalar(-4, DType.Float64).RequiresGrad_();
var f = (x + y) * z;
f.Backward();
Console.WriteLine($"f = {f.ToScalar()}, df/dx = {x.Grad!.ToScalar()}, df/dy = {y.Grad!.ToScalar()}, df/dz = {z.Grad!.ToScalar()}");

// The same product through a custom function: its backward is the one written in Multiply below.
x.Grad = null;
y.Grad = null;
var product = new Multiply().Apply(x, y);
product.Backward();
Console.WriteLine($"x * y = {product.ToScalar()}, d/dx = {x.Grad!.ToScalar()}, d/dy = {y.Grad!.ToScalar()}");

// Its backward is checked against central differences, as every built-in op's is.
var a = Tensor.Randn([3, 4], new Generator(1), DType.Float64).RequiresGrad_();
var b = Tensor.Randn([3, 4], new Generator(2), DType.Float64).RequiresGrad_();
Console.WriteLine($"gradcheck Multiply: {(GradCheck.Check(inputs => new Multiply().Apply(inputs[0], inputs[1]), [a, b]).Passed ? "passed" : "failed")}");

sealed class Multiply : Function
{
    protected override Tensor Forward(Tensor[] inputs)
    {
        SaveForBackward(inputs[0], inputs[1]);
        return inputs[0] * inputs[1];
    }

    protected override Tensor?[] Backward(Tensor gradOutput)
    {
        var (x, y) = (Saved[0], Saved[1]);
        return [gradOutput * y, gradOutput * x];
    }
}
