using System.Net;
using System.Net.Sockets;

namespace TuplePool.HealthChecks;

/// <summary>
/// Reads a <see cref="SocketPool"/> for the health check. The one place that knows how: when
/// SocketPool gains more numbers, only this class changes.
/// </summary>
/// <remarks>
/// Tuples, waiting callers and refusals from one <see cref="SocketPool.GetSnapshot"/> (the pool
/// counts its own refusals, so nothing has to listen to its metrics); quarantine from the pool's
/// sources (<c>SocketPool.IsFamilyQuarantined</c>).
/// </remarks>
internal sealed class SocketPoolHealthSource(SocketPool pool) : IPoolHealthSource
{
    public PoolHealthReading Read()
    {
        var snapshot = pool.GetSnapshot();
        return new PoolHealthReading(
            snapshot.Tuples,
            snapshot.PendingAcquires,
            QuarantinedFamilies(),
            snapshot.RefusedAcquires,
            snapshot.LastRefusal);
    }

    private List<AddressFamily> QuarantinedFamilies()
    {
        var families = new List<AddressFamily>();
        foreach (var family in (ReadOnlySpan<AddressFamily>)[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            if (pool.IsFamilyQuarantined(family))
            {
                families.Add(family);
            }
        }

        return families;
    }
}

/// <summary>
/// Any other <see cref="ISocketPool"/>: its tuples are all there is to read. Its waiting callers
/// and refusals are left unknown, since an implementation that never fills them in reports 0.
/// </summary>
internal sealed class SnapshotHealthSource(ISocketPool pool) : IPoolHealthSource
{
    public PoolHealthReading Read() => new(pool.GetSnapshot().Tuples, null, null, null, null);
}
