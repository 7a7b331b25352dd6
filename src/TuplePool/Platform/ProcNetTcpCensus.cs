namespace TuplePool.Platform;

/// <summary>
/// The kernel's TCP table from <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>: the fallback where
/// netlink is refused, and the reader of captured text (the doctor's <c>--proc-root</c>). Every
/// query reads the files whole and filters here.
/// </summary>
/// <remarks>
/// The kernel prints these files a page at a time and finds its place again for the next page by
/// hash bucket and position in it; while sockets come and go it repeats lines (one TIME_WAIT
/// socket was seen 12 times in one read during churn: 1,018 lines for 116 sockets) or misses
/// some. Repeats are dropped (<see cref="SocketIdentity"/>: a connection by its four-tuple, since a
/// TIME_WAIT line has no inode); a socket missed stays missed, so a count here can be low, never
/// high.
/// </remarks>
internal sealed class ProcNetTcpCensus(IProcFileSystem fileSystem) : ICensusBackend
{
    public const string TcpPath = "/proc/net/tcp";
    public const string Tcp6Path = "/proc/net/tcp6";

    private static readonly string[] BothFiles = [TcpPath, Tcp6Path];
    private static readonly string[] IPv6File = [Tcp6Path];

    public CensusBackend Kind => CensusBackend.ProcNetTcp;

    /// <summary>The files are read when asked; whether they can be is known then.</summary>
    public CensusResult Probe() => CensusResult.Ok;

    public CensusResult Count(in CensusFilter filter, out int count)
    {
        count = 0;
        if (filter.MatchesNothing)
        {
            return CensusResult.Ok;
        }

        // IPv4 tuples are in both files (dual-stack sockets talking IPv4 are in tcp6).
        var sink = new CountingSink(filter);
        var result = ReadFiles(filter.IsIPv4 ? BothFiles : IPv6File, ref sink, out _, out _);
        count = result.IsOk ? sink.Count : 0;
        return result;
    }

    public CensusResult Query(in CensusFilter filter, List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (filter.MatchesNothing)
        {
            return CensusResult.Ok;
        }

        var sink = new CollectingSink(filter);
        var result = ReadFiles(filter.IsIPv4 ? BothFiles : IPv6File, ref sink, out _, out _);
        if (result.IsOk)
        {
            sink.Table.CopyTo(results);
        }

        return result;
    }

    public CensusResult Lookup(ReadOnlySpan<TcpFourTuple> connections, List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (connections.IsEmpty)
        {
            return CensusResult.Ok;
        }

        var wanted = new HashSet<SocketIdentity>(connections.Length);
        foreach (var tuple in connections)
        {
            if (AddressBits.TryFrom(tuple.LocalAddress, out var local) && AddressBits.TryFrom(tuple.RemoteAddress, out var remote))
            {
                wanted.Add(SocketIdentity.Of(new SocketRecord(local, tuple.LocalPort, remote, tuple.RemotePort, TcpState.Established, KernelTimer.None, 0, 0, 0, 0, 0)));
            }
        }

        var sink = new LookupSink(wanted);
        var result = ReadFiles(BothFiles, ref sink, out _, out _);
        if (result.IsOk)
        {
            sink.Table.CopyTo(results);
        }

        return result;
    }

    public CensusResult ReadAll(TcpStateMask states, out KernelSocketTable table)
    {
        var sink = new CollectingSink(states);
        var result = ReadFiles(BothFiles, ref sink, out var malformed, out var unreadable);
        var sockets = new List<KernelSocket>(sink.Table.Count);
        sink.Table.CopyTo(sockets);
        table = result.IsOk
            ? new KernelSocketTable(sockets, CensusBackend.ProcNetTcp, malformed, sink.Table.Duplicates, unreadable, null)
            : KernelSocketTable.Unavailable(unreadable, result.Detail);
        return result;
    }

    // Ok when at least one of the files could be read (a host without IPv6 has no tcp6).
    private CensusResult ReadFiles<TSink>(string[] paths, ref TSink sink, out int malformed, out IReadOnlyList<string> unreadable)
        where TSink : struct, ISocketRecordSink
    {
        malformed = 0;
        List<string>? missing = null;
        foreach (var path in paths)
        {
            var text = fileSystem.TryReadAllText(path);
            if (text is null)
            {
                (missing ??= []).Add(path);
                continue;
            }

            malformed += KernelCensusParser.ParseInto(text, BitConverter.IsLittleEndian, ref sink);
        }

        unreadable = missing is null ? [] : missing;
        return missing is null || missing.Count < paths.Length
            ? CensusResult.Ok
            : CensusResult.Failed(0, string.Join(" and ", paths) + (paths.Length == 1 ? " is" : " are") + " missing or not readable");
    }

    private readonly struct LookupSink(HashSet<SocketIdentity> wanted) : ISocketRecordSink
    {
        public SocketTableBuilder Table { get; } = new();

        public void Add(in SocketRecord record)
        {
            if (wanted.Contains(SocketIdentity.Of(record)))
            {
                Table.Add(record);
            }
        }

        public void Reset() => Table.Clear();
    }
}
