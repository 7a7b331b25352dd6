using System.Net;
using TuplePool.Connecting;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>One connect-and-close, three ways; shared by the new-connection and crowded-connect benchmarks and the probe.</summary>
internal static class ConnectOnce
{
    /// <summary>
    /// A bare socket, as users write it: connect, then close with RST (no TIME_WAIT left behind).
    /// With <paramref name="range"/>, IP_LOCAL_PORT_RANGE is set first (the floor at a crowd: the
    /// kernel's even/odd port search is off, as it is for the pool's sockets).
    /// </summary>
    public static async ValueTask RawAsync(IPEndPoint destination, PortRange? range = null)
    {
        var socket = RawSocket.CreateTcp();
        try
        {
            if (range is { } r)
            {
                RawSocket.SetLocalPortRange(socket, r);
            }

            await socket.ConnectAsync(destination);
        }
        finally
        {
            RawSocket.CloseAbortive(socket);
        }
    }

    /// <summary>The pool's connector alone: the socket options and the kernel's connect, no bookkeeping.</summary>
    public static async ValueTask ConnectorAsync(SocketConnector connector, IPEndPoint destination)
    {
        var socket = await connector.ConnectAsync(IPAddress.Any, destination, CancellationToken.None);
        RawSocket.CloseAbortive(socket);
    }

    /// <summary>A new connection through the pool, closed instead of returned (the pool uses CloseMode.Abortive).</summary>
    public static async ValueTask PoolAsync(SocketPool pool, IPEndPoint destination)
    {
        var lease = await pool.AcquireAsync(destination);
        lease.Invalidate();
        lease.Dispose();
    }
}
