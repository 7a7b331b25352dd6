using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// Every open connection of one destination, held weakly, so a lease dropped without
/// <see cref="SocketLease.Dispose"/> (an <c>HttpResponseMessage</c> never disposed) is found once
/// the garbage collector has taken it, and its budget freed instead of held for good.
/// </summary>
/// <remarks>
/// The pool holds a connection strongly only while it is idle (the idle store) or being handed
/// over; while leased, only the caller's <see cref="SocketLease"/> copies hold it. So a
/// connection the GC collected was leased and abandoned. Nothing here runs on the idle-hit
/// path: a connection is added when it is opened and removed when it is closed, and the look
/// for collected ones runs on the reaper's sweep, only after a garbage collection.
/// </remarks>
internal sealed class OpenConnections
{
    private readonly object _gate = new();
    private Dictionary<long, Entry>? _entries; // only while something is open: a crawl knows many destinations with none
    private long _nextId;
    private int _seenCollections = -1;

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _entries?.Count ?? 0;
            }
        }
    }

    public void Add(PooledConnection connection)
    {
        lock (_gate)
        {
            connection.Id = ++_nextId;
            (_entries ??= []).Add(connection.Id, new Entry(new WeakReference<PooledConnection>(connection), connection.Charge));
        }
    }

    public void Remove(PooledConnection connection)
    {
        lock (_gate)
        {
            if (_entries is not null && _entries.Remove(connection.Id) && _entries.Count == 0)
            {
                _entries = null;
            }
        }
    }

    /// <summary>
    /// The <paramref name="count"/> connections lent longest ago (<see cref="PooledConnection.LeasedSince"/>),
    /// oldest first. A walk over every open connection, for a refusal's message only.
    /// </summary>
    public List<PooledConnection> OldestLeases(int count)
    {
        var oldest = new List<PooledConnection>(count + 1);
        lock (_gate)
        {
            if (_entries is null)
            {
                return oldest;
            }

            foreach (var entry in _entries.Values)
            {
                if (!entry.Connection.TryGetTarget(out var connection) || !connection.IsLeased || connection.LeasedSince == 0)
                {
                    continue;
                }

                var at = oldest.FindIndex(c => c.LeasedSince > connection.LeasedSince);
                if (at < 0 && oldest.Count < count)
                {
                    oldest.Add(connection);
                }
                else if (at >= 0)
                {
                    oldest.Insert(at, connection);
                    if (oldest.Count > count)
                    {
                        oldest.RemoveAt(count);
                    }
                }
            }
        }

        return oldest;
    }

    /// <summary>Takes out the connections the GC collected and adds their charges to <paramref name="abandoned"/>.</summary>
    public void TakeCollected(List<ConnectionCharge> abandoned)
    {
        var collections = GC.CollectionCount(0);
        if (collections == Volatile.Read(ref _seenCollections))
        {
            return; // nothing can have been collected since the last look
        }

        Volatile.Write(ref _seenCollections, collections);
        lock (_gate)
        {
            if (_entries is null)
            {
                return;
            }

            List<long>? gone = null;
            foreach (var (id, entry) in _entries)
            {
                if (!entry.Connection.TryGetTarget(out _))
                {
                    (gone ??= []).Add(id);
                    abandoned.Add(entry.Charge);
                }
            }

            if (gone is not null)
            {
                foreach (var id in gone)
                {
                    _entries.Remove(id);
                }

                if (_entries.Count == 0)
                {
                    _entries = null;
                }
            }
        }
    }

    private readonly record struct Entry(WeakReference<PooledConnection> Connection, ConnectionCharge Charge);
}
