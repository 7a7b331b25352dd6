using System.Net;
using System.Net.Sockets;

namespace TuplePool.Demo.Loopback;

/// <summary>
/// Listeners bind below 32768: a listener on port 0 would get a port from the ephemeral range and
/// silently take that port out of every outgoing tuple on the machine.
/// </summary>
internal static class ListenerPorts
{
    private const int LastAllowed = 32767;

    /// <summary>Binds and listens on the first free port from <paramref name="firstPort"/> (at most 500 tries).</summary>
    public static Socket Bind(IPAddress address, int firstPort, int backlog)
    {
        var last = Math.Min(firstPort + 499, LastAllowed);
        for (var port = firstPort; port <= last; port++)
        {
            var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                listener.Bind(new IPEndPoint(address, port));
                listener.Listen(backlog);
                return listener;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
            {
                listener.Dispose();
            }
            catch
            {
                listener.Dispose();
                throw;
            }
        }

        throw new InvalidOperationException($"No free listening port on {address} in {firstPort}-{last}.");
    }
}
