using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>Real loopback sockets for the Platform tests. Listeners use port 0; clients take their
/// port from the slice each test passes (IP_LOCAL_PORT_RANGE), so TIME_WAIT stays inside it.</summary>
internal static class LoopbackSockets
{
    public static Socket Listen(IPAddress address, int backlog = 64)
    {
        // Below 32768, never port 0: see ListenerPorts. An IPv6 listener bound to ::1 is IPv6-only.
        var listener = ListenerPorts.BindListener(address);
        listener.Listen(backlog);
        return listener;
    }

    public static IPEndPoint EndPoint(this Socket socket) => (IPEndPoint)socket.LocalEndPoint!;

    /// <summary>Binds to <paramref name="source"/> with NO_PORT and the port slice, then connects.</summary>
    public static Socket Connect(IPAddress source, IPEndPoint destination, PortRange slice, bool dualMode = false)
    {
        var family = dualMode ? AddressFamily.InterNetworkV6 : source.AddressFamily;
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (dualMode)
            {
                socket.DualMode = true;
            }

            Assert.True(SocketOptions.TrySetBindAddressNoPort(socket), "IP_BIND_ADDRESS_NO_PORT was rejected");
            Assert.True(SocketOptions.TrySetLocalPortRange(socket, slice), "IP_LOCAL_PORT_RANGE was rejected");
            socket.Bind(new IPEndPoint(source, 0));
            socket.Connect(destination);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>Closes with RST so the test leaves no TIME_WAIT behind.</summary>
    public static void DisposeAbortively(IEnumerable<Socket> sockets)
    {
        foreach (var socket in sockets)
        {
            try
            {
                SocketOptions.SetAbortiveClose(socket);
            }
            catch (SocketException)
            {
                // Already reset by the peer: nothing left to linger.
            }

            socket.Dispose();
        }
    }

    /// <summary>
    /// Reads until <paramref name="condition"/> holds or 5 s pass; returns the last read. The kernel
    /// moves a closed socket to TIME_WAIT a moment after close() returns, with nothing to await.
    /// </summary>
    public static T WaitFor<T>(Func<T> read, Func<T, bool> condition)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var value = read();
            if (condition(value) || TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(5))
            {
                return value;
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>Reads the census until <paramref name="condition"/> holds or 5 s pass; returns the last read.</summary>
    public static KernelCensusSnapshot WaitForCensus(Func<KernelCensusSnapshot, bool> condition)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var snapshot = KernelCensus.Default.Read();
            if (condition(snapshot) || TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(5))
            {
                return snapshot;
            }

            Thread.Sleep(20);
        }
    }
}
