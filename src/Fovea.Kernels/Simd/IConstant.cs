namespace Fovea.Kernels;

/// <summary>
/// An integer known to the JIT: a kernel generic over it is compiled once per value, so a window width keeps only its
/// own taps' registers and a stride turns a tile's loads into one address plus constant displacements.
/// </summary>
internal interface IConstant
{
    static abstract int Value { get; }
}

internal readonly struct Const1 : IConstant
{
    public static int Value => 1;
}

internal readonly struct Const2 : IConstant
{
    public static int Value => 2;
}

internal readonly struct Const3 : IConstant
{
    public static int Value => 3;
}

internal readonly struct Const5 : IConstant
{
    public static int Value => 5;
}
