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
    /// <param name="refusedAcquires">Refusals callers received so far; 0 or more.</param>
    /// <param name="lastRefusal">When the last of them was; null exactly when <paramref name="refusedAcquires"/> is 0.</param>
    /// <exception cref="ArgumentException"><paramref name="lastRefusal"/> is null with refusals, or set without any.</exception>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples, int pendingAcquires, long refusedAcquires, DateTimeOffset? lastRefusal)
        : this(tuples, pendingAcquires, refusedAcquires, lastRefusal, nat: [])
    {
    }

    /// <summary>Creates a snapshot with the NAT's ledgers, no background refusal and no source listed.</summary>
    /// <param name="tuples">One entry per tuple.</param>
    /// <param name="pendingAcquires">Callers waiting; 0 or more.</param>
    /// <param name="refusedAcquires">Refusals callers received so far; 0 or more.</param>
    /// <param name="lastRefusal">When the last of them was; null exactly when <paramref name="refusedAcquires"/> is 0.</param>
    /// <param name="nat">One entry per destination behind the NAT that holds something.</param>
    /// <exception cref="ArgumentException"><paramref name="lastRefusal"/> is null with refusals, or set without any.</exception>
    public TuplePoolSnapshot(IReadOnlyList<TupleUsage> tuples, int pendingAcquires, long refusedAcquires, DateTimeOffset? lastRefusal, IReadOnlyList<NatUsage> nat)
        : this(tuples, pendingAcquires, refusedAcquires, lastRefusal, nat, backgroundRefusals: 0, lastBackgroundRefusal: null, sources: [])
    {
    }

    /// <summary>Creates a snapshot.</summary>
    /// <param name="tuples">One entry per tuple.</param>
    /// <param name="pendingAcquires">Callers waiting; 0 or more.</param>
    /// <param name="refusedAcquires">Refusals callers received so far; 0 or more.</param>
    /// <param name="lastRefusal">When the last of them was; null exactly when <paramref name="refusedAcquires"/> is 0.</param>
    /// <param name="nat">One entry per destination behind the NAT that holds something.</param>
    /// <param name="backgroundRefusals">Refusals no caller was reported to receive so far; 0 or more.</param>
    /// <param name="lastBackgroundRefusal">When the last of them was; null exactly when <paramref name="backgroundRefusals"/> is 0.</param>
    /// <param name="sources">One entry per configured source address.</param>
    /// <exception cref="ArgumentException">A time is null with refusals, or set without any.</exception>
    public TuplePoolSnapshot(
        IReadOnlyList<TupleUsage> tuples,
        int pendingAcquires,
        long refusedAcquires,
        DateTimeOffset? lastRefusal,
        IReadOnlyList<NatUsage> nat,
        long backgroundRefusals,
        DateTimeOffset? lastBackgroundRefusal,
        IReadOnlyList<SourceStatus> sources)
    {
        ArgumentNullException.ThrowIfNull(nat);
        ArgumentNullException.ThrowIfNull(tuples);
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentOutOfRangeException.ThrowIfNegative(pendingAcquires);
        ArgumentOutOfRangeException.ThrowIfNegative(refusedAcquires);
        ArgumentOutOfRangeException.ThrowIfNegative(backgroundRefusals);
        if ((refusedAcquires == 0) != (lastRefusal is null))
        {
            throw new ArgumentException("lastRefusal is the time of the last of refusedAcquires: null when there is none, set when there is one.", nameof(lastRefusal));
        }

        if ((backgroundRefusals == 0) != (lastBackgroundRefusal is null))
        {
            throw new ArgumentException("lastBackgroundRefusal is the time of the last of backgroundRefusals: null when there is none, set when there is one.", nameof(lastBackgroundRefusal));
        }

        Tuples = tuples;
        Nat = nat;
        PendingAcquires = pendingAcquires;
        RefusedAcquires = refusedAcquires;
        LastRefusal = lastRefusal;
        BackgroundRefusals = backgroundRefusals;
        LastBackgroundRefusal = lastBackgroundRefusal;
        Sources = sources;
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
    /// Refusals a caller received since the pool was created: <see cref="TupleBudgetExhaustedException"/>
    /// (no room within <see cref="TuplePoolOptions.AcquireTimeout"/>, or the wait line full,
    /// <see cref="TuplePoolOptions.MaxPendingAcquires"/>) or a wait for room the caller cancelled
    /// (<c>error.type</c> <c>budget_wait_canceled</c>). Every refusal <c>AcquireAsync</c> throws to
    /// its caller counts here; one met in a connection attempt of <c>SocketsHttpHandler</c> counts
    /// only once a request is reported to have received it
    /// (<see cref="TupleBudgetExhaustedException.MarkReceived"/>), else in
    /// <see cref="BackgroundRefusals"/>. Kept by the pool itself, whether or not its metrics are
    /// listened to; the <c>tuplepool.budget.exhausted</c> counter counts both kinds.
    /// </summary>
    public long RefusedAcquires { get; }

    /// <summary>
    /// When the last of <see cref="RefusedAcquires"/> happened, on the pool's
    /// <see cref="TimeProvider"/> (UTC); null when no caller has received a refusal.
    /// </summary>
    public DateTimeOffset? LastRefusal { get; }

    /// <summary>
    /// Refusals met in connection attempts of <c>SocketsHttpHandler</c> (<c>UseTuplePool</c>) that
    /// no request was reported to receive (<see cref="TupleBudgetExhaustedException.IsBackground"/>):
    /// <c>HttpClient</c> hands such an error only to the request that started the attempt, and only
    /// while it still waits, so one served by another connection, or cancelled, never sees it.
    /// </summary>
    public long BackgroundRefusals { get; }

    /// <summary>When the last of <see cref="BackgroundRefusals"/> happened, on the pool's <see cref="TimeProvider"/> (UTC); null when there is none.</summary>
    public DateTimeOffset? LastBackgroundRefusal { get; }

    /// <summary>
    /// Every configured source address (<see cref="TuplePoolOptions.SourceAddresses"/>) and whether
    /// it is quarantined; empty when the kernel chooses the source. A quarantined source may hold
    /// nothing, and then has no entry in <see cref="Tuples"/>.
    /// </summary>
    public IReadOnlyList<SourceStatus> Sources { get; }

    /// <summary>Sum of <see cref="TupleUsage.Active"/> over all tuples.</summary>
    public int TotalActive => Tuples.Sum(t => t.Active);

    /// <summary>Sum of <see cref="TupleUsage.Idle"/> over all tuples.</summary>
    public int TotalIdle => Tuples.Sum(t => t.Idle);

    /// <summary>Sum of <see cref="TupleUsage.TimeWait"/> over all tuples.</summary>
    public int TotalTimeWait => Tuples.Sum(t => t.TimeWait);

    /// <summary>Totals, waiting callers, refusals (when there were any), quarantined sources, then one line per tuple.</summary>
    public override string ToString()
    {
        var culture = System.Globalization.CultureInfo.InvariantCulture;
        var text = new StringBuilder()
            .Append(culture, $"{Tuples.Count} tuples: {TotalActive} active, {TotalIdle} idle, {TotalTimeWait} TIME_WAIT; {PendingAcquires} callers waiting");
        if (LastRefusal is { } last)
        {
            text.Append(culture, $"; {RefusedAcquires} refused, the last at {last:O}");
        }

        if (LastBackgroundRefusal is { } lastBackground)
        {
            text.Append(culture, $"; {BackgroundRefusals} refused in background connection attempts, the last at {lastBackground:O}");
        }

        foreach (var source in Sources)
        {
            if (source.IsQuarantined)
            {
                text.AppendLine().Append(source);
            }
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
