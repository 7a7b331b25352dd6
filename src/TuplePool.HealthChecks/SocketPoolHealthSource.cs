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
/// pool's source selector; waiting callers
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
        _ = snapshot;
        var families = new List<AddressFamily>();
        foreach (var family in (ReadOnlySpan<AddressFamily>)[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            if (pool.AllSourcesQuarantined(family))
            {
                families.Add(family);
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
