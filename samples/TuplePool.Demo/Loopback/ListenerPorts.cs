using System.Net;
using System.Net.Sockets;

namespace TuplePool.Demo.Loopback;

/// <summary>
/// Listeners bind below 32768. A listener on port 0 gets a port from the ephemeral range, and
/// Linux keeps every bind()-owned port out of connect()'s port search on all addresses, so such
/// a listener silently takes that port out of every outgoing tuple on the machine (and out of
/// some test's client slice). The demo, the benchmarks and the tests all bind through here
/// (the test project links this file).
/// </summary>
internal static class ListenerPorts
{
    private const int FirstShared = 20000;
    private const int LastAllowed = 32767;

    // Parallel test processes start at different points of the shared range, so they rarely meet.
    private static int _next = FirstShared + (Environment.ProcessId % 1000 * 10);

    /// <summary>Binds and listens on the first free port from <paramref name="firstPort"/> (at most 500 tries).</summary>
    public static Socket Bind(IPAddress address, int firstPort, int backlog)
    {
        var last = Math.Min(firstPort + 499, LastAllowed);
        for (var port = firstPort; port <= last; port++)
        {
            if (TryBind(address, port) is { } listener)
            {
                try
                {
                    listener.Listen(backlog);
                    return listener;
                }
                catch
                {
                    listener.Dispose();
                    throw;
                }
            }
        }

        throw new InvalidOperationException($"No free listening port on {address} in {firstPort}-{last}.");
    }

    /// <summary>Binds (not yet listening) on the next free port of 20000–32767, taken in turn by every caller of this process.</summary>
    public static Socket BindListener(IPAddress address)
    {
        for (var attempt = 0; attempt < 2000; attempt++)
        {
            var port = Interlocked.Increment(ref _next);
            if (port > LastAllowed)
            {
                Interlocked.CompareExchange(ref _next, FirstShared, port);
                continue;
            }

            if (TryBind(address, port) is { } listener)
            {
                return listener;
            }
        }

        throw new InvalidOperationException($"No free listening port on {address} in {FirstShared}-{LastAllowed}.");
    }

    /// <summary>A socket bound to <paramref name="port"/>, or null when the port is taken.</summary>
    private static Socket? TryBind(IPAddress address, int port)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.Bind(new IPEndPoint(address, port));
            return listener;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            listener.Dispose();
            return null;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }
}
