using System.Net;
using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// The refusals an acquire of this destination ends with: what the pool knows when it gives up
/// besides the tuples' usage (its open count against MaxConnectionsPerDestination, its oldest
/// leases, when room may come by itself), handed to <see cref="AcquireErrors"/>, which names the
/// cause, counts and logs it.
/// </summary>
internal sealed partial class DestinationPool
{
    /// <summary>How many of the oldest leases a refusal names.</summary>
    private const int LeasesNamed = 3;

    /// <summary>The lease clock: the coarse timestamp (a field read), never 0, which marks "not lent".</summary>
    private long LeaseClock() => Math.Max(1, _settings.CoarseNow);

    /// <summary>No room came within the acquire's bound.</summary>
    private TupleBudgetExhaustedException Refused(IReadOnlyList<IPEndPoint> addresses, AcquirePurpose purpose)
        => _context.Errors.Exhausted(Key, _owner.UsageFor(addresses), Facts(addresses), purpose, _metrics);

    /// <summary>The caller's token ended its wait for room.</summary>
    private OperationCanceledException GaveUpWaiting(IReadOnlyList<IPEndPoint> addresses, AcquirePurpose purpose, CancellationToken cancellationToken)
        => _context.Errors.GaveUpWaiting(Key, _owner.UsageFor(addresses), Facts(addresses), purpose, cancellationToken, _metrics);

    /// <summary>MaxPendingAcquires callers were in line already.</summary>
    private TupleBudgetExhaustedException WaitLineFull(IReadOnlyList<IPEndPoint> addresses, AcquirePurpose purpose)
        => _context.Errors.WaitLineFull(Key, _owner.UsageFor(addresses), Facts(addresses), _settings.MaxPendingAcquires, purpose, _metrics);

    /// <summary>
    /// What this destination knows at a refusal: its open connections against the limit, the
    /// leases out longest (by <see cref="PooledConnection.LeasedSince"/>), and when room may come by
    /// itself (<see cref="TupleLookup.NextExpiry"/>) — never at the connection limit, where only a
    /// close frees a slot.
    /// </summary>
    private RefusalFacts Facts(IReadOnlyList<IPEndPoint> addresses)
    {
        var time = _settings.TimeProvider;
        var now = time.GetTimestamp();
        var coarseNow = _settings.CoarseNow;
        var open = OpenCount;
        var atLimit = open >= _settings.MaxConnections;
        TimeSpan? retryAfter = null;
        if (!atLimit && _context.Tuples.NextExpiry(addresses) is { } next)
        {
            var due = time.GetElapsedTime(now, next);
            retryAfter = due < TimeSpan.Zero ? TimeSpan.Zero : due;
        }

        var leases = new List<LeaseAge>(LeasesNamed);
        foreach (var connection in _connections.OldestLeases(LeasesNamed))
        {
            var since = connection.LeasedSince;
            if (since != 0)
            {
                var age = time.GetElapsedTime(since, coarseNow);
                leases.Add(new LeaseAge(connection.Describe(), age < TimeSpan.Zero ? TimeSpan.Zero : age));
            }
        }

        return new RefusalFacts
        {
            OpenToDestination = open,
            MaxConnections = _settings.MaxConnections,
            OldestLeases = leases,
            RetryAfter = retryAfter,
        };
    }
}
