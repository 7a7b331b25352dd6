namespace TuplePool.Platform;

/// <summary>
/// Where a census parser puts the sockets it reads: implemented by small structs (a counter, a
/// table), passed by reference into generic methods, so a pass allocates nothing per socket.
/// </summary>
internal interface ISocketRecordSink
{
    void Add(in SocketRecord record);

    /// <summary>Forgets everything added: the pass starts again (after a reply that did not fit).</summary>
    void Reset();
}

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

/// <summary>Collects the sockets that pass a filter (or, without one, those in some states), each once.</summary>
internal struct CollectingSink : ISocketRecordSink
{
    private readonly CensusFilter _filter;
    private readonly bool _hasFilter;
    private readonly TcpStateMask _states;

    public CollectingSink(in CensusFilter filter)
    {
        _filter = filter;
        _hasFilter = true;
        _states = filter.States;
        Table = new SocketTableBuilder();
    }

    public CollectingSink(TcpStateMask states)
    {
        _filter = default;
        _hasFilter = false;
        _states = states;
        Table = new SocketTableBuilder();
    }

    public SocketTableBuilder Table { get; }

    /// <summary>Sockets added that the filter did not match (from netlink: 0, the kernel filtered them).</summary>
    public int Rejected { get; private set; }

    public void Add(in SocketRecord record)
    {
        if (_hasFilter ? _filter.Matches(record) : _states.Contains(record.State))
        {
            Table.Add(record);
        }
        else
        {
            Rejected++;
        }
    }

    public void Reset()
    {
        Table.Clear();
        Rejected = 0;
    }
}
