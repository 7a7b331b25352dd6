using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>
/// The raw socket options TuplePool sets. The <c>Try</c> methods return false, never throw, when
/// the platform lacks the option or the kernel rejects it, so callers can fall back to plain
/// bind-before-connect.
/// </summary>
internal static class SocketOptions
{
    /// <summary>Linux <c>SOL_IP</c>; also the level both options below use on an AF_INET6 socket.</summary>
    internal const int SolIp = 0;

    /// <summary>Linux <c>IP_BIND_ADDRESS_NO_PORT</c> (Linux ≥ 4.2).</summary>
    internal const int IpBindAddressNoPort = 24;

    /// <summary>Linux <c>IP_LOCAL_PORT_RANGE</c> (Linux ≥ 6.3).</summary>
    internal const int IpLocalPortRange = 51;

    /// <summary><c>IP_FREEBIND</c> (SOL_IP): bind an address the machine has not assigned.</summary>
    internal const int IpFreeBind = 15;

    /// <summary>Windows <c>SO_REUSE_UNICASTPORT</c> (Windows 10 / Server 2016 and later).</summary>
    internal const int SoReuseUnicastPort = 0x3007;

    // Never mutated; Socket.LingerState copies the two fields into the setsockopt call.
    private static readonly LingerOption s_abortive = new(enable: true, seconds: 0);

    /// <summary>
    /// Sets <c>IP_BIND_ADDRESS_NO_PORT</c> so that <c>bind(ip, 0)</c> defers the port choice to
    /// <c>connect()</c>, which then picks per (source, destination IP, destination port) instead
    /// of per source. Linux only; also works at <c>SOL_IP</c> on an AF_INET6 socket.
    /// </summary>
    public static bool TrySetBindAddressNoPort(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        Span<byte> value = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(value, 1);
        return TrySetRaw(socket, SolIp, IpBindAddressNoPort, value);
    }

    /// <summary>
    /// Sets <c>IP_FREEBIND</c>, so <c>bind()</c> takes an address no interface has. An IPv6 source
    /// prefix needs it: on Linux 6.18 an IPv4 socket binds an address of a local route
    /// (<c>ip route add local</c>) without it, an IPv6 socket fails with <c>EADDRNOTAVAIL</c>
    /// (its bind checks assigned addresses only) and binds and connects with it. Set at
    /// <c>SOL_IP</c>, which an AF_INET6 socket accepts too (tried there: the same result as
    /// <c>IPV6_FREEBIND</c>, which needs Linux 4.15). Linux only.
    /// </summary>
    public static bool TrySetFreeBind(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        Span<byte> value = stackalloc byte[sizeof(int)];
        BitConverter.TryWriteBytes(value, 1);
        return TrySetRaw(socket, SolIp, IpFreeBind, value);
    }

    /// <summary>
    /// Sets <c>IP_LOCAL_PORT_RANGE</c>: this socket's ephemeral port comes from
    /// <paramref name="range"/> (the kernel clamps it into the system range). The value is a
    /// <c>uint</c>, first port in the low 16 bits, last port in the high 16 bits. Returns false
    /// for a range that is not valid (0 would mean "system default" to the kernel), off Linux, and
    /// on kernels older than 6.3 (<c>ENOPROTOOPT</c>).
    /// </summary>
    /// <remarks>
    /// For AF_INET6 sockets the option is set at level <c>SOL_IP</c> (0) too: tried on Linux 6.18,
    /// an AF_INET6 socket accepts it there, reads it back unchanged, and a connect to <c>::1</c>
    /// takes its port from the range. Option 51 at <c>SOL_IPV6</c> (41) is a different option
    /// (it is accepted and reads back as 1), so it must not be used.
    /// </remarks>
    public static bool TrySetLocalPortRange(Socket socket, PortRange range)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsLinux() || !range.IsValid)
        {
            return false;
        }

        Span<byte> value = stackalloc byte[sizeof(uint)];
        BitConverter.TryWriteBytes(value, EncodeLocalPortRange(range));
        return TrySetRaw(socket, SolIp, IpLocalPortRange, value);
    }

    /// <summary>The <c>IP_LOCAL_PORT_RANGE</c> value: first port in the low 16 bits, last in the high 16 bits.</summary>
    internal static uint EncodeLocalPortRange(PortRange range) => (uint)range.First | ((uint)range.Last << 16);

    /// <summary>
    /// Sets Windows <c>SO_REUSE_UNICASTPORT</c>, the Windows counterpart of
    /// <c>IP_BIND_ADDRESS_NO_PORT</c> (best effort; false elsewhere and where Windows rejects it).
    /// </summary>
    public static bool TrySetReuseUnicastPort(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        if (!OperatingSystem.IsWindows())
        {
            return false;
        }

        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, (SocketOptionName)SoReuseUnicastPort, 1);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>
    /// <c>SO_LINGER {on, 0}</c>: closing sends RST and leaves no TIME_WAIT behind, so the tuple is
    /// free at once. Throws <see cref="ObjectDisposedException"/> on a disposed socket.
    /// </summary>
    public static void SetAbortiveClose(Socket socket)
    {
        ArgumentNullException.ThrowIfNull(socket);
        socket.LingerState = s_abortive;
    }

    /// <summary>
    /// TCP keepalive: <c>SO_KEEPALIVE</c> on, then <c>TCP_KEEPIDLE</c>,
    /// <c>TCP_KEEPINTVL</c> and <c>TCP_KEEPCNT</c> (whole seconds; the options validator
    /// guarantees them). Set before connect, so a connection is probed from its first idle
    /// period. False when the platform rejects an option.
    /// </summary>
    public static bool TrySetKeepAlive(Socket socket, TimeSpan idleTime, TimeSpan interval, int retryCount)
    {
        ArgumentNullException.ThrowIfNull(socket);
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, (int)idleTime.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, (int)interval.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, retryCount);
            return true;
        }
        catch (Exception e) when (e is SocketException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    // setsockopt takes the value in the machine's byte order, which is what BitConverter writes.
    private static bool TrySetRaw(Socket socket, int level, int name, ReadOnlySpan<byte> value)
    {
        try
        {
            socket.SetRawSocketOption(level, name, value);
            return true;
        }
        catch (SocketException)
        {
            // ENOPROTOOPT on an older kernel, EINVAL for a value it does not accept.
            return false;
        }
    }
}
