namespace TuplePool.Telemetry;

/// <summary>
/// The pool-wide sums the meter reports at every <see cref="MetricDetail"/>, read in one pass
/// over what the pool holds (its ledgers and idle stores) without building a per-tuple object:
/// <c>SnapshotBuilder.ReadTotals</c>. From a <see cref="TuplePoolSnapshot"/> they are the same
/// sums (<see cref="Of"/>).
/// </summary>
/// <param name="Tuples">Tuples the pool holds something on (their ledgers).</param>
/// <param name="Active">Connections leased out or being opened.</param>
/// <param name="Idle">Connections in the idle stores.</param>
/// <param name="TimeWait">Ports held in TIME_WAIT by the pool's own graceful closes.</param>
/// <param name="Remaining">Ports free for new connections, summed over <paramref name="Tuples"/>.</param>
/// <param name="NatActive">Connections open through the NAT.</param>
/// <param name="NatHolding">Ports the NAT still holds after closes and resets.</param>
/// <param name="NatRemaining">Ports free through the NAT, summed over the destinations behind it the pool holds ports to.</param>
internal readonly record struct PoolTotals(
    long Tuples,
    long Active,
    long Idle,
    long TimeWait,
    long Remaining,
    long NatActive,
    long NatHolding,
    long NatRemaining)
{
    /// <summary>The same sums from a snapshot (what <see cref="MetricDetail.Tuple"/> reads anyway).</summary>
    public static PoolTotals Of(TuplePoolSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        long active = 0, idle = 0, timeWait = 0, remaining = 0;
        foreach (var tuple in snapshot.Tuples)
        {
            active += tuple.Active;
            idle += tuple.Idle;
            timeWait += tuple.TimeWait;
            remaining += tuple.Remaining;
        }

        long natActive = 0, natHolding = 0, natRemaining = 0;
        foreach (var nat in snapshot.Nat)
        {
            natActive += nat.Active;
            natHolding += nat.Holding;
            natRemaining += nat.Remaining;
        }

        return new PoolTotals(snapshot.Tuples.Count, active, idle, timeWait, remaining, natActive, natHolding, natRemaining);
    }
}
