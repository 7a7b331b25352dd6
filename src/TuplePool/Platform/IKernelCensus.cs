using System.Net;

namespace TuplePool.Platform;

/// <summary>
/// The TCP sockets the whole machine holds, as the kernel reports them; a seam for tests.
/// Addresses are compared by their bits: IPv4-mapped IPv6 counts as IPv4 and scope ids are
/// ignored. A source of null, Any or IPv6Any matches every source. The <c>Try</c> methods return
/// false (and add nothing) only when no backend could answer at all.
/// </summary>
internal interface IKernelCensus
{
    /// <summary>Which backend answers: <see cref="CensusBackend.SockDiag"/> unless netlink was refused.</summary>
    CensusBackend Backend { get; }

    /// <summary>Why netlink is not used (the refusal, with its errno); null while it is.</summary>
    string? FallbackReason { get; }

    /// <summary>Every socket, counted per four-tuple and state (the whole table: use it where every tuple matters).</summary>
    KernelCensusSnapshot Read();

    /// <summary>Every socket in <paramref name="states"/>, each once, with how it was read.</summary>
    KernelSocketTable ReadAll(TcpStateMask states);

    /// <summary>
    /// How many sockets in <paramref name="states"/> use the tuple (<paramref name="source"/>,
    /// <paramref name="destination"/>), optionally only those whose local port lies in
    /// <paramref name="localPorts"/>. Netlink filters in the kernel and allocates nothing per socket.
    /// </summary>
    bool TryCount(IPAddress? source, IPEndPoint destination, TcpStateMask states, PortRange? localPorts, out int count);

    /// <summary>Appends the sockets in <paramref name="states"/> on the tuple (<paramref name="source"/>, <paramref name="destination"/>).</summary>
    /// <remarks>
    /// With <see cref="TcpStateMask.AfterClose"/> this is the follow-up of closed connections: which
    /// of them still hold their tuple, in which state, and for how long (<see cref="KernelSocket.TimerLeft"/>).
    /// </remarks>
    bool TryQuery(IPAddress? source, IPEndPoint destination, TcpStateMask states, List<KernelSocket> results);

    /// <summary>
    /// Appends the sockets, in whatever state, whose four-tuple is one of <paramref name="connections"/>;
    /// a connection that no longer exists adds nothing. Netlink asks by four-tuple (a hash lookup
    /// per connection, 64 to a datagram), without walking the table.
    /// </summary>
    bool TryLookup(IReadOnlyList<TcpFourTuple> connections, List<KernelSocket> results);
}
