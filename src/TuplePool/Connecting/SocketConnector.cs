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
/// On Linux the connect itself is issued directly and checked once before any wait (see
/// <c>SocketConnector.Linux.cs</c>): on loopback and fast LANs the handshake is usually complete
/// when connect() returns, and the runtime's epoll round trip would cost more than the connect.
/// </summary>
internal sealed partial class SocketConnector : ISocketConnector
{
    private readonly bool _setNoPort;
    private readonly bool _setReuseUnicastPort;
    private readonly bool _connectDirectly;
    private readonly PortRange? _socketRange;

    public SocketConnector(KernelSettings kernel, PortRange? poolRange)
        : this(kernel, poolRange, connectDirectly: OperatingSystem.IsLinux())
    {
    }

    /// <param name="kernel">What the kernel supports.</param>
    /// <param name="poolRange">The pool's port slice, or null for the system range.</param>
    /// <param name="connectDirectly">
    /// Linux only: issue the non-blocking connect() directly and finish synchronously when the
    /// handshake is already done; false always goes through <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/>
    /// (the benchmarks compare the two).
    /// </param>
    internal SocketConnector(KernelSettings kernel, PortRange? poolRange, bool connectDirectly)
    {
        _setNoPort = kernel.IsLinux && kernel.SupportsBindAddressNoPort;
        _setReuseUnicastPort = OperatingSystem.IsWindows();
        _connectDirectly = connectDirectly && OperatingSystem.IsLinux();
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

    /// <summary>True when connect() is issued directly (Linux) rather than through the runtime's async connect.</summary>
    internal bool ConnectsDirectly => _connectDirectly;

    /// <remarks>
    /// Not an async method: when the connect finishes at once (the usual case on loopback) the
    /// whole call completes synchronously, with no state machine and no task allocated.
    /// </remarks>
    public ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<Socket>(cancellationToken);
        }

        Socket socket;
        try
        {
            socket = CreateBound(source, destination.AddressFamily);
        }
        catch (Exception e)
        {
            return ValueTask.FromException<Socket>(e);
        }

        try
        {
            if (_connectDirectly)
            {
                switch (StartDirectConnect(socket, destination))
                {
                    case DirectConnect.Connected:
                        return new ValueTask<Socket>(socket);
                    case DirectConnect.Pending:
                        return FinishPendingAsync(socket, destination, cancellationToken);
                    default:
                        // Nothing was sent (an error this code does not map itself): the runtime's
                        // own connect tries again and maps the error as it always does.
                        break;
                }
            }

            return ConnectThroughRuntimeAsync(socket, destination, cancellationToken);
        }
        catch (Exception e)
        {
            Abort(socket);
            return ValueTask.FromException<Socket>(e);
        }
    }

    /// <summary>A new socket with the pool's options, bound to <paramref name="source"/> unless it is Any.</summary>
    private Socket CreateBound(IPAddress source, AddressFamily family)
    {
        var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
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

                if (source.AddressFamily == AddressFamily.InterNetworkV6 && IsFreeBindSource(source))
                {
                    SocketOptions.TrySetFreeBind(socket);
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

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private static async ValueTask<Socket> ConnectThroughRuntimeAsync(Socket socket, IPEndPoint destination, CancellationToken cancellationToken)
    {
        try
        {
            await socket.ConnectAsync(destination, cancellationToken).ConfigureAwait(false);
            return socket;
        }
        catch
        {
            Abort(socket);
            throw;
        }
    }

    /// <summary>
    /// The IPv6 source prefixes (<see cref="TuplePoolOptions.SourcePrefixes"/>) whose addresses are
    /// bound with <c>IP_FREEBIND</c>: an IPv6 bind refuses an address of a local route without it
    /// (<see cref="SocketOptions.TrySetFreeBind"/>). Start-up validation has checked that a local
    /// route serves each (<c>SourcePrefixProbe</c>). IPv4 prefixes bind without it, and so do
    /// listed addresses, whose bind error says the address is not (or no longer) assigned.
    /// </summary>
    internal IReadOnlyList<IPNetwork> FreeBindPrefixes { get; init; } = [];

    private bool IsFreeBindSource(IPAddress source)
    {
        var prefixes = FreeBindPrefixes;
        for (var i = 0; i < prefixes.Count; i++)
        {
            if (prefixes[i].Contains(source))
            {
                return true;
            }
        }

        return false;
    }

    // --- TCP keepalive ---

    /// <summary>Keepalive for every socket this connector opens; null (the default) leaves it off.</summary>
    internal TcpKeepAlive? KeepAlive { get; init; }

    private void ApplyKeepAlive(Socket socket)
    {
        if (KeepAlive is { } keepAlive)
        {
            SocketOptions.TrySetKeepAlive(socket, keepAlive.Time, keepAlive.Interval, keepAlive.RetryCount);
        }
    }

    /// <summary>
    /// A cancelled connect may have completed its handshake in the kernel just before the cancel
    /// took effect; a plain close would then send FIN and leave a TIME_WAIT the ledger never
    /// charged. RST leaves nothing, whatever state the socket reached.
    /// </summary>
    private static void Abort(Socket socket)
    {
        try
        {
            SocketOptions.SetAbortiveClose(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed by the cancellation.
        }

        socket.Dispose();
    }
}
