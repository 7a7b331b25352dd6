using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// The refusals the pool has thrown (<see cref="TupleBudgetExhaustedException"/>: no room within
/// AcquireTimeout, or the wait line full; and waits for room the caller cancelled), in two kinds:
/// those a caller received, and background ones — met in a connection attempt of
/// <c>SocketsHttpHandler</c> that no request was reported to receive. For each kind, how many
/// since the pool was created and when the last one was, on the pool's <see cref="TimeProvider"/>.
/// What <see cref="TuplePoolSnapshot.RefusedAcquires"/>, <see cref="TuplePoolSnapshot.LastRefusal"/>,
/// <see cref="TuplePoolSnapshot.BackgroundRefusals"/> and <see cref="TuplePoolSnapshot.LastBackgroundRefusal"/>
/// report, so a health check reads the pool itself rather than listening to its metrics.
/// </summary>
/// <remarks>
/// <para>Written only on the refusal path (<see cref="AcquireErrors"/>) and by receipts, read only
/// by snapshots: the idle hit never touches it. A lock keeps the counts and times together, and
/// the clock is read inside it so the time kept is always the latest of racing refusals.</para>
/// <para>A background refusal that a caller turns out to have received moves to the other kind
/// (<see cref="Received"/>), so the last background time must forget it. The background ones not
/// received are kept newest last in a short list; when the newest is received, the one before it
/// is the last again. A receipt comes within moments of its refusal (the request that gets it
/// fails at once), so the list only has to reach back over the refusals of those moments:
/// <see cref="RecentBackground"/> of them. An older one that falls off the front leaves its time
/// behind as the floor of the last background time.</para>
/// </remarks>
internal sealed class RefusalRecord(TimeProvider timeProvider) : IRefusalReceipts
{
    /// <summary>How many of the latest background refusals are kept, to be taken back when a caller received one.</summary>
    internal const int RecentBackground = 64;

    private readonly object _gate = new();
    private readonly Queue<(long Ticket, DateTimeOffset At)> _recentBackground = new();
    private long _count;
    private DateTimeOffset? _last;
    private long _backgroundCount;
    private DateTimeOffset? _olderBackground;
    private long _nextTicket;

    /// <summary>A caller received a refusal now.</summary>
    public void Record()
    {
        lock (_gate)
        {
            _count++;
            _last = timeProvider.GetUtcNow();
        }
    }

    /// <summary>A refusal no caller is known to receive happened now; returns its ticket, for <see cref="Received"/>.</summary>
    public long RecordBackground()
    {
        lock (_gate)
        {
            var ticket = ++_nextTicket;
            _backgroundCount++;
            if (_recentBackground.Count == RecentBackground)
            {
                _olderBackground = _recentBackground.Dequeue().At;
            }

            _recentBackground.Enqueue((ticket, timeProvider.GetUtcNow()));
            return ticket;
        }
    }

    /// <summary>The background refusal with <paramref name="ticket"/> reached a caller: counted as received, at the time it happened.</summary>
    public void Received(long ticket)
    {
        lock (_gate)
        {
            var at = Remove(ticket) ?? timeProvider.GetUtcNow();
            _backgroundCount--;
            _count++;
            if (_last is not { } last || at > last)
            {
                _last = at;
            }
        }
    }

    /// <summary>Refusals callers received so far, and when the last happened (null when none has).</summary>
    public (long Count, DateTimeOffset? Last) Read()
    {
        lock (_gate)
        {
            return (_count, _last);
        }
    }

    /// <summary>Background refusals so far that no caller was reported to receive, and when the last happened (null when there is none).</summary>
    public (long Count, DateTimeOffset? Last) ReadBackground()
    {
        lock (_gate)
        {
            if (_backgroundCount == 0)
            {
                return (0, null);
            }

            return (_backgroundCount, _recentBackground.Count > 0 ? LatestRecent() : _olderBackground);
        }
    }

    private DateTimeOffset LatestRecent()
    {
        DateTimeOffset latest = default;
        foreach (var (_, at) in _recentBackground)
        {
            latest = at; // kept in the order they happened: the last is the latest
        }

        return latest;
    }

    /// <summary>Takes the refusal with <paramref name="ticket"/> out of the recent ones; its time, or null when it fell off the front already.</summary>
    private DateTimeOffset? Remove(long ticket)
    {
        DateTimeOffset? found = null;
        var count = _recentBackground.Count;
        for (var i = 0; i < count; i++)
        {
            var entry = _recentBackground.Dequeue();
            if (entry.Ticket == ticket)
            {
                found = entry.At;
            }
            else
            {
                _recentBackground.Enqueue(entry);
            }
        }

        return found;
    }
}
