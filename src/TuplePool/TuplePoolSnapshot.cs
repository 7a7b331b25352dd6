namespace TuplePool;

/// <summary>A point-in-time view of every tuple the pool has used.</summary>
public sealed class TuplePoolSnapshot
{
    /// <summary>Creates a snapshot.</summary>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples)
    {
        ArgumentNullException.ThrowIfNull(tuples);
        Tuples = tuples;
    }

    /// <summary>One entry per (source, destination IP, destination port) tuple.</summary>
    public IReadOnlyList<TupleUsage> Tuples { get; }

    /// <summary>Sum of <see cref="TupleUsage.Active"/> over all tuples.</summary>
    public int TotalActive => Tuples.Sum(t => t.Active);

    /// <summary>Sum of <see cref="TupleUsage.Idle"/> over all tuples.</summary>
    public int TotalIdle => Tuples.Sum(t => t.Idle);

    /// <summary>Sum of <see cref="TupleUsage.TimeWait"/> over all tuples.</summary>
    public int TotalTimeWait => Tuples.Sum(t => t.TimeWait);
}
