using System.Numerics;

namespace Fovea.Backends.Cpu;

/// <summary>erf(x), evaluated in double precision for every element type (see <see cref="SpecialFunctions.Erf"/>).</summary>
internal readonly struct ErfOp<T> : IUnaryOp<T> where T : IFloatingPointIeee754<T>
{
    public static T Apply(T x) => T.CreateTruncating(SpecialFunctions.Erf(double.CreateTruncating(x)));

    public static void Span(ReadOnlySpan<T> x, Span<T> y)
    {
        for (int i = 0; i < x.Length; i++) y[i] = Apply(x[i]);
    }
}
