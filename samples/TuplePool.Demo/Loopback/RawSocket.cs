using System.Net;
using System.Net.Sockets;

namespace TuplePool.Demo.Loopback;

/// <summary>
/// What a plain client would do with a bare <see cref="Socket"/>: the raw Linux options set by
/// hand, so the plain side of each comparison is as fair as it can be.
/// </summary>
internal static class RawSocket
{
    // IP_LOCAL_PORT_RANGE: level SOL_IP (0), option 51, Linux >= 6.3. The value is a uint with the
    // first port in the low 16 bits and the last port in the high 16 bits.
    private const int SolIp = 0;
    private const int IpLocalPortRange = 51;

    /// <summary>Narrows the ephemeral range this socket's connect() may pick from.</summary>
    public static void SetLocalPortRange(Socket socket, PortRange range)
    {
        var value = (uint)range.First | ((uint)range.Last << 16);
        Span<byte> bytes = stackalloc byte[sizeof(uint)];
        BitConverter.TryWriteBytes(bytes, value);
        socket.SetRawSocketOption(SolIp, IpLocalPortRange, bytes);
    }

    /// <summary>SO_LINGER {on, 0}: close sends RST and leaves no TIME_WAIT on either side.</summary>
    public static void SetAbortiveClose(Socket socket) => socket.LingerState = new LingerOption(true, 0);

    /// <summary>Closes with RST, ignoring a socket the peer already reset.</summary>
    public static void CloseAbortive(Socket socket)
    {
        try
        {
            SetAbortiveClose(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }

        socket.Dispose();
    }

    /// <summary>A new IPv4 TCP socket with Nagle off (every request here is one small write).</summary>
    public static Socket CreateTcp() => new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };

    /// <summary>True when the kernel accepts IP_LOCAL_PORT_RANGE on a socket (Linux >= 6.3).</summary>
    public static bool SupportsLocalPortRange(out string? reason)
    {
        if (!OperatingSystem.IsLinux())
        {
            reason = "IP_LOCAL_PORT_RANGE is a Linux socket option";
            return false;
        }

        using var probe = CreateTcp();
        try
        {
            SetLocalPortRange(probe, new PortRange(50000, 50009));
            reason = null;
            return true;
        }
        catch (SocketException e)
        {
            reason = $"this kernel ({Environment.OSVersion.Version}) refuses IP_LOCAL_PORT_RANGE ({e.SocketErrorCode}); it needs Linux 6.3 or later";
            return false;
        }
    }

    /// <summary>True when <paramref name="address"/> can be bound on this machine (127.0.0.x can, on Linux).</summary>
    public static bool CanBind(IPAddress address, out string? reason)
    {
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            probe.Bind(new IPEndPoint(address, 0));
            reason = null;
            return true;
        }
        catch (SocketException e)
        {
            reason = $"cannot bind {address} ({e.SocketErrorCode}: {e.Message})";
            return false;
        }
    }
}
