using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using TuplePool.Platform;

namespace TuplePool.Connecting;

/// <summary>
/// The direct connect (Linux). <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/>
/// issues a non-blocking connect(), gets <c>EINPROGRESS</c>, registers the socket with the
/// runtime's epoll thread and waits for it to see the socket writable and queue the completion to
/// the thread pool: two thread hops that cost more than the connect itself on a busy machine. On
/// loopback (and often on a LAN) the handshake has already completed by the time connect()
/// returns — the SYN, SYN-ACK and ACK are processed in the same system call — so the socket is
/// writable at once. This path issues the same non-blocking connect(), asks poll() once with a
/// zero timeout, and when the socket is writable finishes synchronously on the calling thread.
/// </summary>
/// <remarks>
/// <para>The socket is made non-blocking through <see cref="Socket.Blocking"/>, so the runtime
/// knows its descriptor is non-blocking (as after any async operation) and keeps emulating
/// blocking calls for the caller once <see cref="Socket.Blocking"/> is set back to true.</para>
/// <para>The runtime's own state (<see cref="Socket.Connected"/>, <see cref="Socket.RemoteEndPoint"/>,
/// what <see cref="NetworkStream"/> checks) is set by a second connect() through
/// <see cref="Socket.Connect(EndPoint)"/>: Linux answers a connect() on a socket whose
/// non-blocking connect has completed with 0 (or with the connect's error), so the runtime
/// records the connection exactly as after its own connect, and maps a failure the same way.</para>
/// <para>When the handshake is still in flight (a real network, a full accept queue) the wait is
/// a zero-byte <see cref="Socket.SendAsync(ReadOnlyMemory{byte}, SocketFlags, CancellationToken)"/>:
/// the kernel refuses it with <c>EAGAIN</c> until the connection is established, so the runtime
/// waits for writability on its epoll thread — the wait <c>ConnectAsync</c> would have made —
/// and then completes it with 0 bytes sent, or fails it with the connect's error. Nothing is
/// written to the wire, the cancellation token and the caller's timeout apply as to
/// <c>ConnectAsync</c>, and no thread is blocked.</para>
/// </remarks>
internal sealed partial class SocketConnector
{
    // Linux errno values (asm-generic; the same on every architecture .NET runs on).
    private const int EAddrInUse = 98;
    private const int EAddrNotAvail = 99;
    private const int ENetUnreach = 101;
    private const int EConnRefused = 111;
    private const int EHostUnreach = 113;
    private const int EInProgress = 115;

    private const ushort AfInet = 2;
    private const ushort AfInet6 = 10;
    private const int SockaddrIn6Size = 28;

    private enum DirectConnect
    {
        /// <summary>connect() failed before sending anything, with an error mapped by the runtime.</summary>
        NotStarted,

        /// <summary>The handshake is done and the runtime knows the socket is connected.</summary>
        Connected,

        /// <summary>The SYN is out; the handshake has not finished yet.</summary>
        Pending,
    }

    /// <summary>
    /// Issues the non-blocking connect() and looks once whether it finished. Throws the connect's
    /// error as <see cref="SocketException"/> when the kernel already knows it failed.
    /// </summary>
    private static DirectConnect StartDirectConnect(Socket socket, IPEndPoint destination)
    {
        socket.Blocking = false;
        var errno = IssueConnect(socket, destination);
        switch (errno)
        {
            case EInProgress:
                _ = NativePoll.PollNow(socket, NativePoll.Out, out var revents);
                if ((revents & (NativePoll.Out | NativePoll.Err | NativePoll.Hup)) == 0)
                {
                    return DirectConnect.Pending;
                }

                FinishConnect(socket, destination);
                return DirectConnect.Connected;
            case 0:
                // A TCP connect() on a non-blocking socket never succeeds at once on Linux; if it
                // ever did, a second connect() would fail with EISCONN and the runtime could not
                // learn the connection. Report it rather than hand out a socket the runtime
                // thinks is unconnected.
                throw new SocketException((int)SocketError.IsConnected);
            case EAddrNotAvail:
                throw new SocketException((int)SocketError.AddressNotAvailable);
            case EAddrInUse:
                throw new SocketException((int)SocketError.AddressAlreadyInUse);
            case EConnRefused:
                throw new SocketException((int)SocketError.ConnectionRefused);
            case ENetUnreach:
                throw new SocketException((int)SocketError.NetworkUnreachable);
            case EHostUnreach:
                throw new SocketException((int)SocketError.HostUnreachable);
            default:
                socket.Blocking = true;
                return DirectConnect.NotStarted;
        }
    }

    /// <summary>Waits for a handshake still in flight, then finishes as the synchronous path does.</summary>
    private static async ValueTask<Socket> FinishPendingAsync(Socket socket, IPEndPoint destination, CancellationToken cancellationToken)
    {
        try
        {
            await socket.SendAsync(ReadOnlyMemory<byte>.Empty, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            FinishConnect(socket, destination);
            return socket;
        }
        catch
        {
            Abort(socket);
            throw;
        }
    }

    /// <summary>
    /// The second connect(): the kernel answers 0 for a completed handshake, or the connect's
    /// error, and the runtime records the result as after its own connect. The socket is then
    /// blocking again for the caller, as one from <see cref="Socket.ConnectAsync(EndPoint)"/> is.
    /// </summary>
    private static void FinishConnect(Socket socket, IPEndPoint destination)
    {
        try
        {
            socket.Connect(destination);
        }
        catch (SocketException e)
        {
            // Same exception (code and message) as Socket.ConnectAsync throws for this error;
            // the runtime's synchronous Connect appends the endpoint to its message.
            throw new SocketException((int)e.SocketErrorCode);
        }

        socket.Blocking = true;
    }

    /// <summary>connect() on the socket's descriptor; returns 0 or the errno.</summary>
    private static unsafe int IssueConnect(Socket socket, IPEndPoint destination)
    {
        byte* address = stackalloc byte[SockaddrIn6Size];
        var length = WriteSockaddr(destination, new Span<byte>(address, SockaddrIn6Size));
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            // Keeps the descriptor from being closed and reused under the call.
            handle.DangerousAddRef(ref added);
            return NativeConnect((int)handle.DangerousGetHandle(), address, (uint)length) == 0 ? 0 : Marshal.GetLastPInvokeError();
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>Writes <c>sockaddr_in</c> or <c>sockaddr_in6</c> for <paramref name="endPoint"/>; returns its length.</summary>
    internal static int WriteSockaddr(IPEndPoint endPoint, Span<byte> buffer)
    {
        buffer.Clear();
        BinaryPrimitives.WriteUInt16BigEndian(buffer[2..], (ushort)endPoint.Port);
        var address = endPoint.Address;
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            // sa_family is in host byte order, the port and the address in network order.
            BitConverter.TryWriteBytes(buffer, AfInet6);
            address.TryWriteBytes(buffer.Slice(8, 16), out _);
            BitConverter.TryWriteBytes(buffer[24..], (uint)address.ScopeId);
            return SockaddrIn6Size;
        }

        BitConverter.TryWriteBytes(buffer, AfInet);
        address.TryWriteBytes(buffer.Slice(4, 4), out _);
        return 16;
    }

    // connect() on a non-blocking socket does the whole loopback handshake inside the call (tens
    // of microseconds), so it keeps the GC transition, unlike the zero-timeout poll() of
    // NativePoll.
    [LibraryImport("libc", EntryPoint = "connect", SetLastError = true)]
    private static unsafe partial int NativeConnect(int fd, byte* address, uint length);
}
