using Fovea;

var a = Tensor.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });   // [2, 3] float32
var b = a + Tensor.From(10f, 20f, 30f);                                // NumPy broadcasting
var m = a.Mean(1);                                                      // reductions over any dims, keepDim
var (values, indices) = a.Max(1);                                       // max with the index of the first maximum
var t = a.T.Slice(0, 1);                                                // views share storage, copy nothing
var y = Tensor.Randn([64, 128], new Generator(42)).MatMul(Tensor.Randn([128, 10], new Generator(7)));

Console.WriteLine(a);
Console.WriteLine(b);
Console.WriteLine(m);
Console.WriteLine(values);
Console.WriteLine(indices);
Console.WriteLine(t);
Console.WriteLine(string.Join(", ", y.Shape));
