using System.Net.Sockets;

namespace TuplePool.HealthChecks;

/// <summary>
/// What the health check reads from a pool. A seam of this package: <see cref="SocketPoolHealthSource"/>
/// takes it from a <see cref="SocketPool"/>, tests give their own.
/// </summary>
internal interface IPoolHealthSource
{
    PoolHealthReading Read();
}

/// <summary>One look at a pool.</summary>
/// <param name="Tuples">Per-tuple usage, as <see cref="ISocketPool.GetSnapshot"/> gives it.</param>
/// <param name="PendingAcquires">Callers waiting for room; null when the pool does not say.</param>
/// <param name="QuarantinedFamilies">Address families whose every source is quarantined; null when the pool does not say.</param>
/// <param name="RefusedTotal">Refusals callers received since the pool was created (<see cref="TuplePoolSnapshot.RefusedAcquires"/>); null when the pool does not say.</param>
/// <param name="LastRefusal">When the last of them happened, on the pool's clock (<see cref="TuplePoolSnapshot.LastRefusal"/>); null when none (or unknown).</param>
/// <param name="BackgroundTotal">Refusals in connection attempts no request was reported to receive (<see cref="TuplePoolSnapshot.BackgroundRefusals"/>); null when the pool does not say.</param>
/// <param name="LastBackground">When the last of them happened (<see cref="TuplePoolSnapshot.LastBackgroundRefusal"/>); null when none (or unknown).</param>
internal sealed record PoolHealthReading(
    IReadOnlyList<TupleUsage> Tuples,
    int? PendingAcquires,
    IReadOnlyList<AddressFamily>? QuarantinedFamilies,
    long? RefusedTotal,
    DateTimeOffset? LastRefusal,
    long? BackgroundTotal,
    DateTimeOffset? LastBackground);
