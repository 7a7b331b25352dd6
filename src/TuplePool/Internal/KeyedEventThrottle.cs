namespace TuplePool.Internal;

/// <summary>
/// Lets one occurrence of a repeated event per key (a tuple, a destination) through per interval
/// and counts the ones it holds back, so the next that passes can say how many were left out: how
/// log events that fire once per refusal or per crossing (tens a second during an exhaustion) stay
/// readable. Time is a <see cref="TimeProvider"/> timestamp; one lock, taken only where the event
/// happens (a refusal, a tuple crossing 90 %), never on the idle-hit path. The throttle outlives
/// the object the event is about, so a tuple whose ledger empties and fills again within the
/// interval is still held to one line, and a destination pays no field for it. Entries whose
/// interval has passed with nothing held back are dropped once there are more than
/// <see cref="PruneAbove"/>, so memory follows the keys that had an event lately.
/// </summary>
internal sealed class KeyedEventThrottle<TKey>
    where TKey : notnull
{
    /// <summary>How many keys are kept before the ones with nothing left to say are dropped.</summary>
    internal const int PruneAbove = 1024;

    private readonly Dictionary<TKey, Entry> _entries = new();

    public int Count
    {
        get
        {
            lock (_entries)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// True when the event of <paramref name="key"/> may be logged now, with how many were held
    /// back since the last that passed in <paramref name="suppressed"/>; false (counting this one)
    /// while within <paramref name="intervalTicks"/> of it.
    /// </summary>
    public bool TryPass(TKey key, long now, long intervalTicks, out int suppressed)
    {
        lock (_entries)
        {
            if (_entries.Count > PruneAbove)
            {
                Prune(now);
            }

            if (!_entries.TryGetValue(key, out var entry) || now >= entry.NextAt)
            {
                suppressed = entry.Held;
                _entries[key] = new Entry(now + intervalTicks, 0);
                return true;
            }

            _entries[key] = entry with { Held = entry.Held + 1 };
            suppressed = 0;
            return false;
        }
    }

    private void Prune(long now)
    {
        List<TKey>? done = null;
        foreach (var (key, entry) in _entries)
        {
            if (now >= entry.NextAt && entry.Held == 0)
            {
                (done ??= []).Add(key);
            }
        }

        foreach (var key in done ?? [])
        {
            _entries.Remove(key);
        }
    }

    private readonly record struct Entry(long NextAt, int Held);
}
