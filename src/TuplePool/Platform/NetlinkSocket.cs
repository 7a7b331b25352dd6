using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// One <c>AF_NETLINK</c> / <c>NETLINK_SOCK_DIAG</c> socket for one census query: opened, used,
/// closed. Unbound: the first send binds it to a port id of the kernel's choosing, and with no
/// destination the request goes to the kernel. Calls interrupted by a signal (<c>EINTR</c>; the
/// runtime uses signals of its own) are made again.
/// </summary>
internal struct NetlinkSocket : IDisposable
{
    private int _fd;

    private NetlinkSocket(int fd)
    {
        _fd = fd;
    }

    /// <summary>Opens the socket; false with the error number when the host refuses.</summary>
    public static bool TryOpen(out NetlinkSocket socket, out int errno)
    {
        var fd = SockDiagNative.Socket(SockDiagNative.AfNetlink, SockDiagNative.SockRaw | SockDiagNative.SockCloexec, SockDiagNative.NetlinkSockDiag);
        errno = fd < 0 ? Marshal.GetLastPInvokeError() : 0;
        socket = new NetlinkSocket(fd);
        return fd >= 0;
    }

    /// <summary>Sends one datagram (one or more requests); 0 or the error number.</summary>
    public readonly unsafe int Send(ReadOnlySpan<byte> datagram)
    {
        fixed (byte* bytes = datagram)
        {
            while (true)
            {
                var sent = SockDiagNative.Send(_fd, bytes, (nuint)datagram.Length, 0);
                if (sent >= 0)
                {
                    return sent == datagram.Length ? 0 : Errnos.ENOBUFS;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno != Errnos.EINTR)
                {
                    return errno;
                }
            }
        }
    }

    /// <summary>
    /// Takes the next reply datagram without waiting. Returns its full length, which is larger
    /// than <paramref name="buffer"/> when it did not fit (<c>MSG_TRUNC</c>: the rest is lost);
    /// -1 with <paramref name="errno"/> set, <c>EAGAIN</c> when nothing is queued.
    /// </summary>
    /// <remarks>
    /// Waiting is never needed: the kernel answers a request while it is being sent, and it makes
    /// each further part of a dump while the previous one is being received, so a reply that has
    /// not ended and has nothing queued will not go on.
    /// </remarks>
    public readonly unsafe int Receive(Span<byte> buffer, out int errno)
    {
        fixed (byte* bytes = buffer)
        {
            while (true)
            {
                var received = SockDiagNative.Receive(_fd, bytes, (nuint)buffer.Length, SockDiagNative.MsgDontWait | SockDiagNative.MsgTrunc);
                if (received >= 0)
                {
                    errno = 0;
                    return (int)Math.Min(received, int.MaxValue);
                }

                errno = Marshal.GetLastPInvokeError();
                if (errno != Errnos.EINTR)
                {
                    return -1;
                }
            }
        }
    }

    public void Dispose()
    {
        if (_fd >= 0)
        {
            // close() is not retried on EINTR: Linux releases the descriptor either way.
            _ = SockDiagNative.Close(_fd);
            _fd = -1;
        }
    }
}
