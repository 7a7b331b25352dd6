using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Platform;

namespace TuplePool.Pooling;

/// <summary>Closes a socket and says what the close leaves on its tuple.</summary>
internal static class ConnectionCloser
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11; // getsockopt(IPPROTO_TCP, TCP_INFO): byte 0 is tcpi_state

    /// <summary>
    /// Abortive: RST, nothing left. Graceful: TIME_WAIT only when this side closes first, which
    /// the kernel's own TCP state tells best (Linux <c>TCP_INFO</c>):
    /// <list type="bullet">
    /// <item>ESTABLISHED: our FIN goes first → TIME_WAIT, unless bytes are unread — Linux answers a
    /// close with unread data by RST, leaving nothing.</item>
    /// <item>CLOSE_WAIT / LAST_ACK: the peer closed first; its side takes TIME_WAIT.</item>
    /// <item>FIN_WAIT1/2, CLOSING: the caller already shut down sending, so our FIN went first → TIME_WAIT.</item>
    /// <item>CLOSE: reset (an error is pending) → nothing; otherwise the kernel already moved the
    /// tuple to TIME_WAIT behind the open descriptor → TIME_WAIT.</item>
    /// </list>
    /// When unsure (a descriptor the caller disposed, no <c>TCP_INFO</c>), the charge errs on the
    /// TIME_WAIT side: an extra charge delays one connect by a second; a missing one lets the
    /// ledger promise a port the kernel will refuse.
    /// </summary>
    public static ReleaseKind Close(Socket socket, CloseMode mode)
    {
        if (mode == CloseMode.Abortive)
        {
            try
            {
                SocketOptions.SetAbortiveClose(socket);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already reset or closed: nothing left to abort.
            }

            socket.Dispose();
            return ReleaseKind.Free;
        }

        var kind = ClassifyGracefulClose(socket);
        socket.Dispose();
        return kind;
    }

    internal static ReleaseKind ClassifyGracefulClose(Socket socket)
    {
        if (socket.SafeHandle.IsClosed)
        {
            return ReleaseKind.TimeWait;
        }

        try
        {
            if (OperatingSystem.IsLinux() && TryGetTcpState(socket, out var state))
            {
                return state switch
                {
                    TcpState.Established => socket.Available > 0 ? ReleaseKind.Free : ReleaseKind.TimeWait,
                    TcpState.CloseWait or TcpState.LastAck => ReleaseKind.Free,
                    TcpState.FinWait1 or TcpState.FinWait2 or TcpState.Closing or TcpState.TimeWait => ReleaseKind.TimeWait,
                    TcpState.Close => HasPendingError(socket) ? ReleaseKind.Free : ReleaseKind.TimeWait,
                    _ => ReleaseKind.Free, // never connected (SYN_SENT and the like)
                };
            }

            // Elsewhere: readable means FIN, RST or unread bytes — none of which leaves TIME_WAIT here.
            return socket.Poll(0, SelectMode.SelectRead) ? ReleaseKind.Free : ReleaseKind.TimeWait;
        }
        catch (ObjectDisposedException)
        {
            return ReleaseKind.TimeWait;
        }
        catch (SocketException)
        {
            return ReleaseKind.Free;
        }
    }

    private static bool TryGetTcpState(Socket socket, out TcpState state)
    {
        Span<byte> info = stackalloc byte[8];
        var length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, info);
        state = (TcpState)info[0];
        return length >= 1;
    }

    private static bool HasPendingError(Socket socket)
        => socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error) is int error && error != 0;
}
