namespace Fovea.Vision.Retrieval;

/// <summary>
/// The <c>k</c> best (score, row) pairs of a stream, kept in a binary min-heap: a candidate that does not beat the
/// current k-th best costs one comparison, one that does costs O(log k). Ties go to the lower row, so the result does
/// not depend on the order in which blocks arrive.
/// </summary>
internal sealed class TopK
{
    private readonly float[] _scores;
    private readonly long[] _rows;
    private int _count;

    public TopK(int k)
    {
        _scores = new float[k];
        _rows = new long[k];
    }

    /// <summary>How many pairs it keeps.</summary>
    public int Capacity => _scores.Length;

    /// <summary>The score a candidate must beat once the heap is full (−∞ before).</summary>
    public float Threshold => _count < _scores.Length ? float.NegativeInfinity : _scores[0];

    // "a is worse than b": lower score, or the same score and a higher row.
    private bool Worse(int a, int b) => _scores[a] < _scores[b] || (_scores[a] == _scores[b] && _rows[a] > _rows[b]);

    /// <summary>Offers one candidate.</summary>
    public void Offer(float score, long row)
    {
        if (float.IsNaN(score)) return;
        if (_count < _scores.Length)
        {
            int i = _count++;
            _scores[i] = score;
            _rows[i] = row;
            while (i > 0 && Worse(i, (i - 1) / 2))
            {
                Swap(i, (i - 1) / 2);
                i = (i - 1) / 2;
            }
            return;
        }
        if (score < _scores[0] || (score == _scores[0] && row > _rows[0])) return;
        _scores[0] = score;
        _rows[0] = row;
        int j = 0;
        while (true)
        {
            int l = 2 * j + 1, r = l + 1, m = j;
            if (l < _count && Worse(l, m)) m = l;
            if (r < _count && Worse(r, m)) m = r;
            if (m == j) break;
            Swap(j, m);
            j = m;
        }
    }

    private void Swap(int a, int b)
    {
        (_scores[a], _scores[b]) = (_scores[b], _scores[a]);
        (_rows[a], _rows[b]) = (_rows[b], _rows[a]);
    }

    /// <summary>The kept pairs, best first.</summary>
    public (float Score, long Row)[] Sorted()
    {
        var result = new (float Score, long Row)[_count];
        for (int i = 0; i < _count; i++) result[i] = (_scores[i], _rows[i]);
        Array.Sort(result, (a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Row.CompareTo(b.Row));
        return result;
    }
}
