using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;

namespace TuplePool.Connecting;

/// <summary>
/// Creates, configures, binds and connects one socket. The options are set before bind, which is
/// where the kernel reads them:
/// <list type="bullet">
/// <item><c>IP_BIND_ADDRESS_NO_PORT</c> so <c>bind(src, 0)</c> does not pick the port; connect()
/// picks it per (src, dst, dport), giving each destination the whole range.</item>
/// <item><c>IP_LOCAL_PORT_RANGE</c> with the pool's slice, or, on Linux ≥ 6.8 with no slice, the
/// system range: setting it turns off the even/odd port search that makes connect() ~20× slower
/// when the range is crowded.</item>
/// </list>
/// </summary>
internal sealed class SocketConnector : ISocketConnector
{
    private readonly bool _setNoPort;
    private readonly bool _setReuseUnicastPort;
    private readonly PortRange? _socketRange;

    public SocketConnector(KernelSettings kernel, PortRange? poolRange)
    {
        _setNoPort = kernel.IsLinux && kernel.SupportsBindAddressNoPort;
        _setReuseUnicastPort = OperatingSystem.IsWindows();
        if (kernel.IsLinux && kernel.SupportsLocalPortRange && poolRange is not null)
        {
            _socketRange = poolRange;
        }
        else if (kernel.IsLinux && kernel.LocalPortRangeDisablesParitySearch)
        {
            _socketRange = kernel.PortRange;
        }
    }

    /// <summary>The range set on each socket with <c>IP_LOCAL_PORT_RANGE</c>, or null when none is.</summary>
    public PortRange? SocketRange => _socketRange;

    public async ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var socket = new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            socket.NoDelay = true;
            ApplyKeepAlive(socket);
            if (_socketRange is { } range)
            {
                SocketOptions.TrySetLocalPortRange(socket, range);
            }

            var explicitSource = !source.Equals(IPAddress.Any) && !source.Equals(IPAddress.IPv6Any);
            if (explicitSource)
            {
                if (_setNoPort)
                {
                    SocketOptions.TrySetBindAddressNoPort(socket);
                }
                else if (_setReuseUnicastPort)
                {
                    SocketOptions.TrySetReuseUnicastPort(socket);
                }

                try
                {
                    socket.Bind(new IPEndPoint(source, 0));
                }
                catch (SocketException e)
                {
                    throw new SourceBindException(source, e);
                }
            }

            await socket.ConnectAsync(destination, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            // A cancelled connect may have completed its handshake in the kernel just before the
            // cancel took effect; a plain close would then send FIN and leave a TIME_WAIT the
            // ledger never charged. RST leaves nothing, whatever state the socket reached.
            try
            {
                SocketOptions.SetAbortiveClose(socket);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already closed by the cancellation.
            }

            socket.Dispose();
            throw;
        }
    }

    // --- TCP keepalive (issue 10.4; owned by the connect-path work, kept apart from the rest) ---

    /// <summary>Keepalive for every socket this connector opens; null (the default) leaves it off.</summary>
    internal TcpKeepAlive? KeepAlive { get; init; }

    private void ApplyKeepAlive(Socket socket)
    {
        if (KeepAlive is { } keepAlive)
        {
            SocketOptions.TrySetKeepAlive(socket, keepAlive);
        }
    }
}
