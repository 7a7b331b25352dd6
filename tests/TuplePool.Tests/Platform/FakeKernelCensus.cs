using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>
/// A census over a fixed list of sockets, for code that consumes the census: it answers every
/// query from the list with its own plain filtering (not the backends' code), and counts the calls.
/// </summary>
internal sealed class FakeKernelCensus(IEnumerable<KernelSocket> sockets) : IKernelCensus
{
    private readonly List<KernelSocket> _sockets = sockets.ToList();

    public int Calls { get; private set; }

    public CensusBackend Backend => CensusBackend.SockDiag;

    public string? FallbackReason => null;

    /// <summary>A socket on (source, destination) with the given local port.</summary>
    public static KernelSocket Socket(IPAddress source, int localPort, IPEndPoint destination, TcpState state = TcpState.Established)
        => new(source, localPort, destination.Address, destination.Port, state, KernelTimer.None, null, 0, 0, 0);

    public KernelCensusSnapshot Read()
    {
        Calls++;
        return KernelCensusSnapshot.FromTable(ReadAll(TcpStateMask.All));
    }

    public KernelSocketTable ReadAll(TcpStateMask states)
    {
        Calls++;
        return new KernelSocketTable(_sockets.Where(s => states.Contains(s.State)).ToList(), Backend, 0, 0, [], null);
    }

    public bool TryCount(IPAddress? source, IPEndPoint destination, TcpStateMask states, PortRange? localPorts, out int count)
    {
        Calls++;
        count = Matching(source, destination, states).Count(s => localPorts is not { } range || range.Contains(s.LocalPort));
        return true;
    }

    public bool TryQuery(IPAddress? source, IPEndPoint destination, TcpStateMask states, List<KernelSocket> results)
    {
        Calls++;
        results.AddRange(Matching(source, destination, states));
        return true;
    }

    public bool TryLookup(IReadOnlyList<TcpFourTuple> connections, List<KernelSocket> results)
    {
        Calls++;
        results.AddRange(_sockets.Where(s => connections.Contains(TcpFourTuple.Of(s))));
        return true;
    }

    private IEnumerable<KernelSocket> Matching(IPAddress? source, IPEndPoint destination, TcpStateMask states)
        => _sockets.Where(s => s.RemoteAddress.Equals(destination.Address)
            && s.RemotePort == destination.Port
            && states.Contains(s.State)
            && (source is null || source.Equals(IPAddress.Any) || source.Equals(IPAddress.IPv6Any) || s.LocalAddress.Equals(source)));
}
