using System.Net;
using System.Net.Sockets;

namespace TuplePool.HealthChecks;

/// <summary>
/// Reads a <see cref="SocketPool"/> for the health check. The one place that knows how: when
/// SocketPool gains the numbers below, only this class changes.
/// </summary>
/// <remarks>
/// Today: tuples from <see cref="SocketPool.GetSnapshot"/>; refusals from the pool's
/// <c>tuplepool.budget.exhausted</c> counter (<see cref="RefusalRecorder"/>); quarantine from the
/// pool's internal ledger walk (no live source of a family = all quarantined); waiting callers
/// unknown until <c>TuplePoolSnapshot.PendingAcquires</c> exists.
/// </remarks>
internal sealed class SocketPoolHealthSource(SocketPool pool, RefusalRecorder? refusals) : IPoolHealthSource
{
    public PoolHealthReading Read()
    {
        var snapshot = pool.GetSnapshot();
        return new PoolHealthReading(
            snapshot.Tuples,
            PendingAcquires: null,
            QuarantinedFamilies(snapshot),
            refusals?.Total,
            refusals?.Last);
    }

    private List<AddressFamily> QuarantinedFamilies(TuplePoolSnapshot snapshot)
    {
        // A source is quarantined only after a bind failed on a reserved tuple, so a family with
        // a quarantined source has a tuple in the snapshot: probe with one of its destinations.
        // LedgersFor yields a ledger per source of the family that is not quarantined; none
        // while the family has sources means every one of them is out.
        var families = new List<AddressFamily>();
        foreach (var family in snapshot.Tuples.GroupBy(static t => t.Destination.AddressFamily))
        {
            IReadOnlyList<IPEndPoint> probe = [family.First().Destination];
            if (pool.HasSourcesFor(probe) && !pool.LedgersFor(probe).Any())
            {
                families.Add(family.Key);
            }
        }

        return families;
    }
}

/// <summary>Any other <see cref="ISocketPool"/>: its snapshot is all there is to read.</summary>
internal sealed class SnapshotHealthSource(ISocketPool pool) : IPoolHealthSource
{
    public PoolHealthReading Read() => new(pool.GetSnapshot().Tuples, null, null, null, null);
}
