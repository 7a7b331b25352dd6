namespace TuplePool.Platform;

/// <summary>Counts the sockets that pass a filter, each socket once.</summary>
internal struct CountingSink : ISocketRecordSink
{
    private readonly CensusFilter _filter;
    private SocketDeduplicator _seen;

    public CountingSink(in CensusFilter filter)
    {
        _filter = filter;
        _seen = SocketDeduplicator.ForThisThread();
    }

    public int Count { get; private set; }

    /// <summary>Sockets added that the filter did not match (from netlink: 0, the kernel filtered them).</summary>
    public int Rejected { get; private set; }

    /// <summary>Repeats dropped.</summary>
    public readonly int Duplicates => _seen.Duplicates;

    public void Add(in SocketRecord record)
    {
        if (!_filter.Matches(record))
        {
            Rejected++;
        }
        else if (_seen.TryAdd(record))
        {
            Count++;
        }
    }

    public void Reset()
    {
        _seen = SocketDeduplicator.ForThisThread();
        Count = 0;
        Rejected = 0;
    }
}
