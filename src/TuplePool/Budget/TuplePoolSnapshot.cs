using System.Text;

namespace TuplePool;

/// <summary>
/// A point-in-time view of every tuple the pool has used, of the callers waiting for one, and of
/// the callers the pool has refused.
/// </summary>
public sealed class TuplePoolSnapshot
{
    /// <summary>Creates a snapshot with nobody waiting.</summary>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples)
        : this(tuples, pendingAcquires: 0)
    {
    }

    /// <summary>Creates a snapshot with no refusal.</summary>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples, int pendingAcquires)
        : this(tuples, pendingAcquires, refusedAcquires: 0, lastRefusal: null)
    {
    }

    /// <summary>Creates a snapshot.</summary>
    /// <param name="tuples">One entry per tuple.</param>
    /// <param name="pendingAcquires">Callers waiting; 0 or more.</param>
    /// <param name="refusedAcquires">Acquires refused with <see cref="TupleBudgetExhaustedException"/> so far; 0 or more.</param>
    /// <param name="lastRefusal">When the last of them was; null exactly when <paramref name="refusedAcquires"/> is 0.</param>
    /// <exception cref="ArgumentException"><paramref name="lastRefusal"/> is null with refusals, or set without any.</exception>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples, int pendingAcquires, long refusedAcquires, DateTimeOffset? lastRefusal)
        : this(tuples, pendingAcquires, refusedAcquires, lastRefusal, nat: [])
    {
    }

    /// <summary>Creates a snapshot with the NAT's ledgers.</summary>
    /// <param name="tuples">One entry per tuple.</param>
    /// <param name="pendingAcquires">Callers waiting; 0 or more.</param>
    /// <param name="refusedAcquires">Acquires refused with <see cref="TupleBudgetExhaustedException"/> so far; 0 or more.</param>
    /// <param name="lastRefusal">When the last of them was; null exactly when <paramref name="refusedAcquires"/> is 0.</param>
    /// <param name="nat">One entry per destination behind the NAT that holds something.</param>
    /// <exception cref="ArgumentException"><paramref name="lastRefusal"/> is null with refusals, or set without any.</exception>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples, int pendingAcquires, long refusedAcquires, DateTimeOffset? lastRefusal, IReadOnlyList<NatUsage> nat)
    {
        ArgumentNullException.ThrowIfNull(nat);
        ArgumentNullException.ThrowIfNull(tuples);
        ArgumentOutOfRangeException.ThrowIfNegative(pendingAcquires);
        ArgumentOutOfRangeException.ThrowIfNegative(refusedAcquires);
        if ((refusedAcquires == 0) != (lastRefusal is null))
        {
            throw new ArgumentException("lastRefusal is the time of the last of refusedAcquires: null when there is none, set when there is one.", nameof(lastRefusal));
        }

        Tuples = tuples;
        Nat = nat;
        PendingAcquires = pendingAcquires;
        RefusedAcquires = refusedAcquires;
        LastRefusal = lastRefusal;
    }

    /// <summary>One entry per (source, destination IP, destination port) tuple.</summary>
    public IReadOnlyList<TupleUsage> Tuples { get; }

    /// <summary>
    /// One entry per destination behind the NAT (<see cref="TuplePoolOptions.Nat"/>) the pool
    /// holds ports to: the NAT's own budget, beside the local tuples'. Empty without a NAT.
    /// </summary>
    public IReadOnlyList<NatUsage> Nat { get; }

    /// <summary>
    /// Callers waiting in line for a connection or for room, over every destination; above 0 the
    /// pool is short of connections or budget (see <see cref="TuplePoolOptions.MaxPendingAcquires"/>).
    /// </summary>
    public int PendingAcquires { get; }

    /// <summary>
    /// Acquires the pool has refused with <see cref="TupleBudgetExhaustedException"/> since it was
    /// created: no room within <see cref="TuplePoolOptions.AcquireTimeout"/>, or the wait line full
    /// (<see cref="TuplePoolOptions.MaxPendingAcquires"/>). Kept by the pool itself, whether or not
    /// its metrics are listened to; the <c>tuplepool.budget.exhausted</c> counter counts the same.
    /// </summary>
    public long RefusedAcquires { get; }

    /// <summary>
    /// When the last of <see cref="RefusedAcquires"/> happened, on the pool's
    /// <see cref="TimeProvider"/> (UTC); null when the pool has refused nobody.
    /// </summary>
    public DateTimeOffset? LastRefusal { get; }

    /// <summary>Sum of <see cref="TupleUsage.Active"/> over all tuples.</summary>
    public int TotalActive => Tuples.Sum(t => t.Active);

    /// <summary>Sum of <see cref="TupleUsage.Idle"/> over all tuples.</summary>
    public int TotalIdle => Tuples.Sum(t => t.Idle);

    /// <summary>Sum of <see cref="TupleUsage.TimeWait"/> over all tuples.</summary>
    public int TotalTimeWait => Tuples.Sum(t => t.TimeWait);

    /// <summary>Totals, waiting callers, refusals (when there were any), then one line per tuple.</summary>
    public override string ToString()
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        var text = new StringBuilder()
            .Append(culture, $"{Tuples.Count} tuples: {TotalActive} active, {TotalIdle} idle, {TotalTimeWait} TIME_WAIT; {PendingAcquires} callers waiting");
        if (LastRefusal is { } last)
        {
            text.Append(culture, $"; {RefusedAcquires} refused, the last at {last:O}");
        }

        foreach (var tuple in Tuples)
        {
            text.AppendLine().Append(tuple);
        }

        foreach (var nat in Nat)
        {
            text.AppendLine().Append(nat);
        }

        return text.ToString();
    }
}
