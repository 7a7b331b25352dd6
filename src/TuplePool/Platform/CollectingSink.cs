namespace TuplePool.Platform;

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
