using System.Globalization;
using System.Text;

namespace Fovea;

public sealed partial class Tensor
{
    /// <summary>Above this many elements, printing shows only <see cref="PrintEdgeItems"/> at each end of every dim.</summary>
    public const int PrintThreshold = 1000;

    /// <summary>Elements kept at each end of a dim when printing is elided.</summary>
    public const int PrintEdgeItems = 3;

    /// <summary>
    /// PyTorch-style text: <c>tensor([[1.0000, 2.5000], [3.0000, 4.0000]], shape=[2, 2], dtype=float32)</c>,
    /// rows on their own lines, large tensors elided with <c>...</c>.
    /// </summary>
    public override string ToString()
    {
        bool summarize = Numel > PrintThreshold;
        var values = To(DType == DType.Bool ? DType.Bool : DType.Float64);
        var formatter = ElementFormatter.Create(this, summarize);
        var sb = new StringBuilder("tensor(");
        if (Numel == 0)
            sb.Append("[]");
        else
            AppendDim(sb, this, 0, Offset, formatter, summarize, indent: 7);
        sb.Append(", shape=").Append(ShapeChecks.Format(_shape));
        sb.Append(", dtype=").Append(DType.Name()).Append(')');
        return sb.ToString();
    }

    private static void AppendDim(StringBuilder sb, Tensor t, int dim, int offset, ElementFormatter f, bool summarize, int indent)
    {
        if (dim == t.Rank)
        {
            sb.Append(f.Format(t.GetAsDouble(offset)));
            return;
        }
        int n = t._shape[dim];
        sb.Append('[');
        bool elide = summarize && n > 2 * PrintEdgeItems;
        bool last = dim == t.Rank - 1;
        string separator = last ? ", " : "," + new string('\n', t.Rank - dim - 1) + new string(' ', indent + dim + 1);
        bool first = true;
        for (int i = 0; i < n; i++)
        {
            if (elide && i == PrintEdgeItems)
            {
                sb.Append(separator).Append("...");
                i = n - PrintEdgeItems - 1;
                continue;
            }
            if (!first) sb.Append(separator);
            first = false;
            AppendDim(sb, t, dim + 1, offset + i * t._strides[dim], f, summarize, indent);
        }
        sb.Append(']');
    }

    /// <summary>Chooses one number style for the whole tensor, as PyTorch does: integers, fixed or scientific.</summary>
    private sealed class ElementFormatter
    {
        private enum Style { Bool, Int, IntegralFloat, Fixed, Scientific }
        private Style _style;
        private int _width;

        public static ElementFormatter Create(Tensor t, bool summarize)
        {
            var f = new ElementFormatter();
            if (t.DType == DType.Bool) { f._style = Style.Bool; f._width = 5; return f; }
            var finite = new List<double>();
            Collect(t, 0, t.Offset, summarize, finite);
            if (t.DType == DType.Int32)
                f._style = Style.Int;
            else
            {
                var nonzero = finite.Where(v => v != 0).Select(Math.Abs).ToList();
                bool integral = finite.All(v => v == Math.Round(v));
                double max = nonzero.Count > 0 ? nonzero.Max() : 0, min = nonzero.Count > 0 ? nonzero.Min() : 0;
                if (integral && max < 1e8) f._style = Style.IntegralFloat;
                else if (nonzero.Count > 0 && (max / min > 1000 || max > 1e8 || min < 1e-4)) f._style = Style.Scientific;
                else f._style = Style.Fixed;
            }
            f._width = 0;
            foreach (double v in finite) f._width = Math.Max(f._width, f.Raw(v).Length);
            return f;
        }

        private static void Collect(Tensor t, int dim, int offset, bool summarize, List<double> into)
        {
            if (dim == t.Rank)
            {
                double v = t.GetAsDouble(offset);
                if (double.IsFinite(v)) into.Add(v);
                return;
            }
            int n = t._shape[dim];
            for (int i = 0; i < n; i++)
            {
                if (summarize && n > 2 * PrintEdgeItems && i == PrintEdgeItems) i = n - PrintEdgeItems;
                Collect(t, dim + 1, offset + i * t._strides[dim], summarize, into);
            }
        }

        private string Raw(double v)
        {
            if (double.IsNaN(v)) return "nan";
            if (double.IsPositiveInfinity(v)) return "inf";
            if (double.IsNegativeInfinity(v)) return "-inf";
            return _style switch
            {
                Style.Bool => v != 0 ? "True" : "False",
                Style.Int => ((long)v).ToString(CultureInfo.InvariantCulture),
                Style.IntegralFloat => v.ToString("0", CultureInfo.InvariantCulture) + ".",
                Style.Fixed => v.ToString("0.0000", CultureInfo.InvariantCulture),
                _ => v.ToString("0.0000e+00", CultureInfo.InvariantCulture),
            };
        }

        public string Format(double v) => Raw(v).PadLeft(_width);
    }
}
