namespace TuplePool.Pooling;

/// <summary>
/// The typed refusals the pool has thrown to its callers (<see cref="TupleBudgetExhaustedException"/>:
/// no room within AcquireTimeout, or the wait line full): how many since the pool was created and
/// when the last one was, on the pool's <see cref="TimeProvider"/>. What
/// <see cref="TuplePoolSnapshot.RefusedAcquires"/> and <see cref="TuplePoolSnapshot.LastRefusal"/>
/// report, so a health check reads the pool itself rather than listening to its metrics.
/// </summary>
/// <remarks>
/// Written only on the refusal path (<see cref="AcquireErrors"/>), read only by snapshots: the idle
/// hit never touches it. A lock keeps the count and the time of one refusal together, and the
/// clock is read inside it so the time kept is always the latest of racing refusals.
/// </remarks>
internal sealed class RefusalRecord(TimeProvider timeProvider)
{
    private readonly object _gate = new();
    private long _count;
    private DateTimeOffset? _last;

    /// <summary>One caller was refused now.</summary>
    public void Record()
    {
        lock (_gate)
        {
            _count++;
            _last = timeProvider.GetUtcNow();
        }
    }

    /// <summary>Refusals so far, and when the last happened (null when none has).</summary>
    public (long Count, DateTimeOffset? Last) Read()
    {
        lock (_gate)
        {
            return (_count, _last);
        }
    }
}
