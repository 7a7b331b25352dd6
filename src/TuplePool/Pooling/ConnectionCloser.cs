using System.Net.Sockets;
using System.Runtime.InteropServices;
using TuplePool.Budget;
using TuplePool.Platform;

namespace TuplePool.Pooling;

/// <summary>Closes a socket and says what the close leaves on its tuple.</summary>
/// <remarks>
/// <para>
/// A graceful close is decided here, not left to <see cref="Socket.Dispose()"/>: .NET turns the
/// close of a socket with a pending asynchronous operation (HttpClient keeps a read pending on
/// HTTP/2 connections and on idle HTTP/1.1 ones) into an abortive one — RST, no TIME_WAIT —
/// unless <see cref="Socket.Shutdown"/> was called for sending first. So when this side is to
/// close first, the closer shuts down sending itself: the FIN goes now, the kernel's state after
/// it says what the tuple is left with, and the dispose that follows stays graceful.
/// </para>
/// <para>
/// The kernel's own TCP state (Linux <c>TCP_INFO</c>) decides the charge:
/// </para>
/// <list type="bullet">
/// <item>ESTABLISHED: shut down sending; FIN_WAIT1/2 or CLOSING after it → TIME_WAIT. Unread bytes
/// make Linux answer the close with RST, leaving nothing, so such a socket is reset outright.</item>
/// <item>CLOSE_WAIT / LAST_ACK: the peer closed first; its side takes TIME_WAIT → nothing here.</item>
/// <item>FIN_WAIT1/2, CLOSING: the caller already shut down sending, so our FIN went first →
/// TIME_WAIT (nothing when bytes are unread: RST).</item>
/// <item>CLOSE: the connection is over while the descriptor is open. Either the peer reset it —
/// nothing left, whether or not a read already took the error (<c>SO_ERROR</c> is then clear) —
/// or our FIN was acknowledged and the peer's FIN came back, and the kernel moved the tuple to
/// TIME_WAIT behind the descriptor. Which of the two is in <c>TCP_INFO</c>: the kernel counts
/// the SYN and our FIN in <c>tcpi_bytes_acked</c> but not in <c>tcpi_bytes_sent</c>, so acked
/// minus sent-once data is 2 exactly when our FIN was acknowledged. (Measured on Linux 6.18. The
/// one case this charges wrongly: the caller half-closed, the peer acknowledged that FIN and then
/// reset, and the caller read the reset — an over-charge, on the safe side. <c>TCP_INFO</c> cannot
/// tell it from the peer's FIN: both leave CLOSE, <c>SO_ERROR</c> clear and our FIN acknowledged;
/// the one counter that sees the peer's FIN, <c>tcpi_bytes_received</c>, is data plus one for it,
/// and the data the caller read from the raw socket is not known here. Only a look for the
/// 4-tuple in TIME_WAIT — <c>/proc/net/tcp</c>, a walk of every socket, or a <c>sock_diag</c>
/// query — would say.)</item>
/// </list>
/// <para>
/// When unsure (a descriptor the caller disposed, no <c>TCP_INFO</c>), the charge errs on the
/// TIME_WAIT side: an extra charge delays one connect by a second; a missing one lets the ledger
/// promise a port the kernel will refuse.
/// </para>
/// </remarks>
internal static class ConnectionCloser
{
    private const int IpProtoTcp = 6;
    private const int TcpInfo = 11; // getsockopt(IPPROTO_TCP, TCP_INFO)

    // struct tcp_info offsets (include/uapi/linux/tcp.h), host byte order: tcpi_state is byte 0; the byte
    // counters below arrived with Linux 4.1 (bytes_acked) and 4.19 (bytes_sent, bytes_retrans).
    private const int BytesAckedOffset = 120;
    private const int BytesSentOffset = 200;
    private const int BytesRetransOffset = 208;
    private const int InfoLengthWithByteCounters = BytesRetransOffset + sizeof(ulong);

    /// <summary>Closes <paramref name="socket"/> as <paramref name="mode"/> says and returns what it leaves on the tuple.</summary>
    public static ReleaseKind Close(Socket socket, CloseMode mode)
    {
        if (mode == CloseMode.Abortive)
        {
            CloseAbortively(socket);
            return ReleaseKind.Free;
        }

        var kind = CloseGracefully(socket);
        socket.Dispose();
        return kind;
    }

    /// <summary>
    /// Takes the close decision for a graceful close and sends what it needs (FIN, or RST when
    /// Linux would reset anyway); the caller disposes the socket afterwards.
    /// </summary>
    internal static ReleaseKind CloseGracefully(Socket socket)
    {
        if (socket.SafeHandle.IsClosed)
        {
            return ReleaseKind.TimeWait;
        }

        try
        {
            if (!OperatingSystem.IsLinux() || !TryGetTcpInfo(socket, out var info))
            {
                // Elsewhere: readable means FIN, RST or unread bytes — none of which leaves TIME_WAIT here.
                return socket.Poll(0, SelectMode.SelectRead) ? ReleaseKind.Free : ReleaseKind.TimeWait;
            }

            switch ((TcpState)info.State)
            {
                case TcpState.Established:
                    if (socket.Available > 0)
                    {
                        SocketOptions.SetAbortiveClose(socket); // Linux would reset on close anyway
                        return ReleaseKind.Free;
                    }

                    ShutdownSend(socket);

                    // The peer's FIN may have crossed ours: the state after the shutdown decides.
                    return TryGetTcpInfo(socket, out var after) ? AfterOurFin(socket, after) : ReleaseKind.TimeWait;
                case TcpState.FinWait1 or TcpState.FinWait2 or TcpState.Closing:
                    if (socket.Available > 0)
                    {
                        SocketOptions.SetAbortiveClose(socket);
                        return ReleaseKind.Free;
                    }

                    ShutdownSend(socket); // keeps .NET's close graceful if a read is pending
                    return ReleaseKind.TimeWait;
                case TcpState.TimeWait:
                    return ReleaseKind.TimeWait;
                case TcpState.Close:
                    return ClosedWithTimeWait(socket, info) ? ReleaseKind.TimeWait : ReleaseKind.Free;
                case TcpState.CloseWait or TcpState.LastAck:
                    return ReleaseKind.PeerClosedFirst; // its side takes TIME_WAIT
                default:
                    return ReleaseKind.Free; // never connected
            }
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

    private static ReleaseKind AfterOurFin(Socket socket, in TcpInfoSample info) => (TcpState)info.State switch
    {
        TcpState.FinWait1 or TcpState.FinWait2 or TcpState.Closing or TcpState.TimeWait => ReleaseKind.TimeWait,
        TcpState.Close => ClosedWithTimeWait(socket, info) ? ReleaseKind.TimeWait : ReleaseKind.Free,
        TcpState.LastAck => ReleaseKind.PeerClosedFirst, // the peer's FIN was in before ours
        _ => ReleaseKind.Free,
    };

    /// <summary>A socket in CLOSE: TIME_WAIT behind it exactly when no error is pending and our FIN was acknowledged.</summary>
    private static bool ClosedWithTimeWait(Socket socket, in TcpInfoSample info)
    {
        if (HasPendingError(socket))
        {
            return false;
        }

        if (!info.HasByteCounters)
        {
            return true; // an older kernel: cannot tell, err on the TIME_WAIT side
        }

        // bytes_acked counts the SYN and our FIN besides each data byte once.
        var dataSent = info.BytesSent - info.BytesRetrans;
        return info.BytesAcked >= dataSent + 2;
    }

    private static void ShutdownSend(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Send);
        }
        catch (SocketException)
        {
            // ENOTCONN: reset under us; the state read next says so.
        }
    }

    private static void CloseAbortively(Socket socket)
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
    }

    private static bool TryGetTcpInfo(Socket socket, out TcpInfoSample info)
    {
        Span<byte> raw = stackalloc byte[InfoLengthWithByteCounters];
        var length = socket.GetRawSocketOption(IpProtoTcp, TcpInfo, raw);
        if (length < 1)
        {
            info = default;
            return false;
        }

        var counters = length >= InfoLengthWithByteCounters;
        info = new TcpInfoSample(
            raw[0],
            counters,
            counters ? MemoryMarshal.Read<ulong>(raw[BytesAckedOffset..]) : 0,
            counters ? MemoryMarshal.Read<ulong>(raw[BytesSentOffset..]) : 0,
            counters ? MemoryMarshal.Read<ulong>(raw[BytesRetransOffset..]) : 0);
        return true;
    }

    private static bool HasPendingError(Socket socket)
        => socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error) is int error && error != 0;

    private readonly record struct TcpInfoSample(byte State, bool HasByteCounters, ulong BytesAcked, ulong BytesSent, ulong BytesRetrans);
}
