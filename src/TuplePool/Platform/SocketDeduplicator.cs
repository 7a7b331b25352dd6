namespace TuplePool.Platform;

/// <summary>
/// Remembers the <see cref="SocketIdentity"/>s of one census pass so a socket reported twice is
/// counted once. One per thread, reused from pass to pass (a census allocates nothing per socket).
/// </summary>
internal sealed class SocketDeduplicator
{
    // After a pass over a large table the set keeps its capacity, and Clear() walks all of it;
    // past this size the next pass starts with a fresh set instead.
    private const int KeepCapacityUpTo = 4096;

    [ThreadStatic]
    private static SocketDeduplicator? t_current;

    private readonly HashSet<SocketIdentity> _seen = [];

    /// <summary>Reports dropped as repeats since the last <see cref="ForThisThread"/>.</summary>
    public int Duplicates { get; private set; }

    /// <summary>This thread's instance, emptied. A pass must finish before the thread starts another.</summary>
    public static SocketDeduplicator ForThisThread()
    {
        var current = t_current;
        if (current is null || current._seen.Count > KeepCapacityUpTo)
        {
            t_current = current = new SocketDeduplicator();
        }
        else
        {
            current._seen.Clear();
            current.Duplicates = 0;
        }

        return current;
    }

    /// <summary>True the first time a socket is reported in this pass; false (and counted) for a repeat.</summary>
    public bool TryAdd(in SocketRecord record)
    {
        if (_seen.Add(SocketIdentity.Of(record)))
        {
            return true;
        }

        Duplicates++;
        return false;
    }
}
