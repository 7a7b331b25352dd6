using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>
/// "Is this idle socket fit to lend?" — nothing waiting to be read (unread bytes, FIN or RST) in
/// one non-blocking <c>poll()</c>, and, on Linux, nothing of an earlier write still waiting to be
/// sent in one <c>ioctl()</c> (<see cref="NativeSendQueue"/>). On Linux both call libc directly:
/// <see cref="Socket.Poll(int, SelectMode)"/> wraps the same syscall in layers that cost more
/// than the rest of an idle hit. Elsewhere it uses <see cref="Socket.Poll(int, SelectMode)"/>
/// and cannot see the send queue.
/// </summary>
internal static class ReadinessProbe
{
    /// <summary>
    /// True when the socket is unfit to lend: it has bytes, end of stream or an error to report
    /// (<see cref="IsReadable"/>), or bytes of an earlier write not yet sent (<see cref="HasUnsentBytes"/>).
    /// The second syscall is made only when the first found nothing.
    /// </summary>
    public static bool IsDirty(Socket socket) => IsReadable(socket) || HasUnsentBytes(socket);

    /// <summary>True when the socket has bytes, end of stream or an error to report.</summary>
    public static bool IsReadable(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return socket.Poll(0, SelectMode.SelectRead);
        }

        // A failed poll() (-1) counts as readable too: the socket is not known to be clean.
        var ready = NativePoll.PollNow(socket, NativePoll.In | NativePoll.RdHup, out var revents);
        return ready != 0 || (revents & (NativePoll.In | NativePoll.Err | NativePoll.Hup | NativePoll.Nval | NativePoll.RdHup)) != 0;
    }

    /// <summary>
    /// True when bytes an earlier caller wrote are still queued unsent (a write cancelled while the
    /// peer's window was shut): they would go out ahead of the next caller's. Bytes sent but not
    /// yet acknowledged do not count (<see cref="NativeSendQueue"/> says why). Always false off Linux.
    /// </summary>
    public static bool HasUnsentBytes(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return false;
        }

        // A failed ioctl() (-1) counts too: the socket is not known to be clean.
        return NativeSendQueue.UnsentBytes(socket) != 0;
    }
}
