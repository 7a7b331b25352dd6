namespace TuplePool.Platform;

/// <summary>
/// One way of reading the kernel's TCP table: netlink (<see cref="SockDiagCensus"/>) or
/// <c>/proc/net/tcp{,6}</c> (<see cref="ProcNetTcpCensus"/>). <see cref="KernelCensus"/> asks the
/// first and falls back to the second. Nothing here throws for what the host refuses or sends:
/// every answer is a <see cref="CensusResult"/>, and a result list is only added to when the
/// answer is complete.
/// </summary>
internal interface ICensusBackend
{
    CensusBackend Kind { get; }

    /// <summary>Whether the backend answers on this host at all (cheap).</summary>
    CensusResult Probe();

    /// <summary>Sockets matching <paramref name="filter"/>, each once.</summary>
    CensusResult Count(in CensusFilter filter, out int count);

    /// <summary>Appends the sockets matching <paramref name="filter"/>, each once.</summary>
    CensusResult Query(in CensusFilter filter, List<KernelSocket> results);

    /// <summary>Appends the sockets, in any state, whose four-tuple is one of <paramref name="connections"/>.</summary>
    CensusResult Lookup(ReadOnlySpan<TcpFourTuple> connections, List<KernelSocket> results);

    /// <summary>Every socket in <paramref name="states"/>; <paramref name="table"/> is set whatever the outcome (empty when it failed).</summary>
    CensusResult ReadAll(TcpStateMask states, out KernelSocketTable table);
}
