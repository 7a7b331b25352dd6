using System.Text;

namespace TuplePool;

/// <summary>A point-in-time view of every tuple the pool has used, and of the callers waiting for one.</summary>
public sealed class TuplePoolSnapshot
{
    /// <summary>Creates a snapshot with nobody waiting.</summary>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples)
        : this(tuples, pendingAcquires: 0)
    {
    }

    /// <summary>Creates a snapshot.</summary>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples, int pendingAcquires)
    {
        ArgumentNullException.ThrowIfNull(tuples);
        ArgumentOutOfRangeException.ThrowIfNegative(pendingAcquires);
        Tuples = tuples;
        PendingAcquires = pendingAcquires;
    }

    /// <summary>One entry per (source, destination IP, destination port) tuple.</summary>
    public IReadOnlyList<TupleUsage> Tuples { get; }

    /// <summary>
    /// Callers waiting in line for a connection or for room, over every destination; above 0 the
    /// pool is short of connections or budget (see <see cref="TuplePoolOptions.MaxPendingAcquires"/>).
    /// </summary>
    public int PendingAcquires { get; }

    /// <summary>Sum of <see cref="TupleUsage.Active"/> over all tuples.</summary>
    public int TotalActive => Tuples.Sum(t => t.Active);

    /// <summary>Sum of <see cref="TupleUsage.Idle"/> over all tuples.</summary>
    public int TotalIdle => Tuples.Sum(t => t.Idle);

    /// <summary>Sum of <see cref="TupleUsage.TimeWait"/> over all tuples.</summary>
    public int TotalTimeWait => Tuples.Sum(t => t.TimeWait);

    /// <summary>Totals, waiting callers, then one line per tuple.</summary>
    public override string ToString()
    {
        var text = new StringBuilder()
            .Append(System.Globalization.CultureInfo.InvariantCulture, $"{Tuples.Count} tuples: {TotalActive} active, {TotalIdle} idle, {TotalTimeWait} TIME_WAIT; {PendingAcquires} callers waiting");
        foreach (var tuple in Tuples)
        {
            text.AppendLine().Append(tuple);
        }

        return text.ToString();
    }
}
