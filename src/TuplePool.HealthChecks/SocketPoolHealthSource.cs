using System.Net.Sockets;

namespace TuplePool.HealthChecks;

/// <summary>
/// Reads a <see cref="SocketPool"/> for the health check, through its public snapshot only
/// (<see cref="SocketPool.GetSnapshot"/>): tuples, waiting callers, both kinds of refusal (the pool
/// counts its own, so nothing has to listen to its metrics) and the quarantine of each source.
/// Nothing internal, so this package works with any TuplePool of the same public API.
/// </summary>
internal sealed class SocketPoolHealthSource(SocketPool pool) : IPoolHealthSource
{
    public PoolHealthReading Read()
    {
        var snapshot = pool.GetSnapshot();
        return new PoolHealthReading(
            snapshot.Tuples,
            snapshot.PendingAcquires,
            QuarantinedFamilies(snapshot.Sources),
            snapshot.RefusedAcquires,
            snapshot.LastRefusal,
            snapshot.BackgroundRefusals,
            snapshot.LastBackgroundRefusal);
    }

    /// <summary>The families that have configured sources, every one of them quarantined.</summary>
    internal static List<AddressFamily> QuarantinedFamilies(IReadOnlyList<SourceStatus> sources)
    {
        var families = new List<AddressFamily>();
        foreach (var family in (ReadOnlySpan<AddressFamily>)[AddressFamily.InterNetwork, AddressFamily.InterNetworkV6])
        {
            var any = false;
            var all = true;
            foreach (var source in sources)
            {
                if (source.Address.AddressFamily == family)
                {
                    any = true;
                    all &= source.IsQuarantined;
                }
            }

            if (any && all)
            {
                families.Add(family);
            }
        }

        return families;
    }
}

/// <summary>
/// Any other <see cref="ISocketPool"/>: its tuples are all there is to read. Its waiting callers,
/// refusals and sources are left unknown, since an implementation that never fills them in reports 0.
/// </summary>
internal sealed class SnapshotHealthSource(ISocketPool pool) : IPoolHealthSource
{
    public PoolHealthReading Read() => new(pool.GetSnapshot().Tuples, null, null, null, null, null, null);
}
