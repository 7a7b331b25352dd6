using System.Net;
using System.Net.Sockets;

namespace TuplePool.Tests.Support;

/// <summary>
/// A loopback port whose SYNs go unanswered, without nftables: a listener with a backlog of 0
/// whose accept queue is filled by one connection it never accepts. Linux drops a SYN that
/// meets a full accept queue (no RST), so a connect there stays in SYN_SENT until cancelled or
/// timed out, as against a host behind a firewall that drops.
/// </summary>
public sealed class SilentListener : IDisposable
{
    private readonly Socket _listener;
    private readonly Socket _filler;

    public SilentListener(IPAddress address)
    {
        _listener = ListenerPorts.BindListener(address);
        _listener.Listen(0);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        _filler = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _filler.Connect(EndPoint);
    }

    public IPEndPoint EndPoint { get; }

    public void Dispose()
    {
        _filler.LingerState = new LingerOption(true, 0);
        _filler.Dispose();
        _listener.Dispose();
    }
}
