using System.Numerics;
using System.Runtime.CompilerServices;

namespace Fovea.Backends.Cpu;

/// <summary>y = x (strided copy; type-agnostic).</summary>
internal struct CopyRow<T>(T[] y, T[] x) : IRowKernel where T : unmanaged
{
    public static int BytesPerElement => 2 * Unsafe.SizeOf<T>();

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], xo = off[1], ys = str[0], xs = str[1];
        if (ys == 1 && xs == 1) { Array.Copy(x, xo, y, yo, len); return; }
        if (ys == 1 && xs == 0) { y.AsSpan(yo, len).Fill(x[xo]); return; }
        for (int i = 0; i < len; i++) y[yo + i * ys] = x[xo + i * xs];
    }
}

/// <summary>y = convert(x).</summary>
internal struct CastRow<TFrom, TTo>(TTo[] y, TFrom[] x) : IRowKernel
    where TFrom : unmanaged, INumberBase<TFrom> where TTo : unmanaged, INumberBase<TTo>
{
    public static int BytesPerElement => Unsafe.SizeOf<TFrom>() + Unsafe.SizeOf<TTo>();

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], xo = off[1], ys = str[0], xs = str[1];
        for (int i = 0; i < len; i++) y[yo + i * ys] = TTo.CreateTruncating(x[xo + i * xs]);
    }
}

/// <summary>y = x != 0.</summary>
internal struct ToBoolRow<TFrom>(bool[] y, TFrom[] x) : IRowKernel where TFrom : unmanaged, INumberBase<TFrom>
{
    public static int BytesPerElement => Unsafe.SizeOf<TFrom>() + 1;

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], xo = off[1], ys = str[0], xs = str[1];
        for (int i = 0; i < len; i++) y[yo + i * ys] = !TFrom.IsZero(x[xo + i * xs]);
    }
}

/// <summary>y = x ? 1 : 0.</summary>
internal struct FromBoolRow<TTo>(TTo[] y, bool[] x) : IRowKernel where TTo : unmanaged, INumberBase<TTo>
{
    public static int BytesPerElement => Unsafe.SizeOf<TTo>() + 1;

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], xo = off[1], ys = str[0], xs = str[1];
        for (int i = 0; i < len; i++) y[yo + i * ys] = x[xo + i * xs] ? TTo.One : TTo.Zero;
    }
}

/// <summary>y = op(x): the SIMD span form on unit strides, the scalar rule otherwise.</summary>
internal struct UnaryRow<T, TOp>(T[] y, T[] x) : IRowKernel where TOp : IUnaryOp<T>
{
    public static int BytesPerElement => 2 * Unsafe.SizeOf<T>();

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], xo = off[1], ys = str[0], xs = str[1];
        if (ys == 1 && xs == 1) { TOp.Span(x.AsSpan(xo, len), y.AsSpan(yo, len)); return; }
        for (int i = 0; i < len; i++) y[yo + i * ys] = TOp.Apply(x[xo + i * xs]);
    }
}

/// <summary>y = op(a, b): SIMD span forms where both inputs are unit-stride or broadcast scalars.</summary>
internal struct BinaryRow<T, TOp>(T[] y, T[] a, T[] b) : IRowKernel where TOp : IBinaryOp<T>
{
    public static int BytesPerElement => 3 * Unsafe.SizeOf<T>();

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], ao = off[1], bo = off[2], ys = str[0], as_ = str[1], bs = str[2];
        if (ys == 1)
        {
            if (as_ == 1 && bs == 1) { TOp.Span(a.AsSpan(ao, len), b.AsSpan(bo, len), y.AsSpan(yo, len)); return; }
            if (as_ == 1 && bs == 0) { TOp.SpanScalar(a.AsSpan(ao, len), b[bo], y.AsSpan(yo, len)); return; }
            if (as_ == 0 && bs == 1) { TOp.ScalarSpan(a[ao], b.AsSpan(bo, len), y.AsSpan(yo, len)); return; }
        }
        for (int i = 0; i < len; i++) y[yo + i * ys] = TOp.Apply(a[ao + i * as_], b[bo + i * bs]);
    }
}

/// <summary>Bool y = op(a, b).</summary>
internal struct CompareRow<T, TOp>(bool[] y, T[] a, T[] b) : IRowKernel where TOp : ICompareOp<T>
{
    public static int BytesPerElement => 2 * Unsafe.SizeOf<T>() + 1;

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], ao = off[1], bo = off[2], ys = str[0], as_ = str[1], bs = str[2];
        for (int i = 0; i < len; i++) y[yo + i * ys] = TOp.Apply(a[ao + i * as_], b[bo + i * bs]);
    }
}

/// <summary>y = cond ? a : b.</summary>
internal struct WhereRow<T>(T[] y, bool[] c, T[] a, T[] b) : IRowKernel
{
    public static int BytesPerElement => 3 * Unsafe.SizeOf<T>() + 1;

    public void Row(ReadOnlySpan<int> off, ReadOnlySpan<int> str, int len)
    {
        int yo = off[0], co = off[1], ao = off[2], bo = off[3];
        int ys = str[0], cs = str[1], as_ = str[2], bs = str[3];
        for (int i = 0; i < len; i++) y[yo + i * ys] = c[co + i * cs] ? a[ao + i * as_] : b[bo + i * bs];
    }
}
