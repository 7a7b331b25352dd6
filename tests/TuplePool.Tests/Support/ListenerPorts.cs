using System.Net;
using System.Net.Sockets;

namespace TuplePool.Tests.Support;

/// <summary>
/// Binds test listeners to ports below 32768. A listener on port 0 gets a port from the
/// ephemeral range, and Linux excludes every bind()-owned port from connect()'s port search on
/// all addresses — so such a listener silently takes one port out of some test's client slice.
/// </summary>
public static class ListenerPorts
{
    private const int First = 20000;
    private const int Last = 32767;
    private static int _next = First + (Environment.ProcessId % 1000 * 10);

    public static Socket BindListener(IPAddress address)
    {
        for (var attempt = 0; attempt < 2000; attempt++)
        {
            var port = Interlocked.Increment(ref _next);
            if (port > Last)
            {
                Interlocked.CompareExchange(ref _next, First, port);
                continue;
            }

            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.Bind(new IPEndPoint(address, port));
                return listener;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                listener.Dispose();
            }
        }

        throw new InvalidOperationException("No free listening port below 32768.");
    }
}
