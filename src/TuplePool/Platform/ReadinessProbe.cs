using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>
/// "Is anything waiting on this idle socket?" — unread bytes, FIN or RST — in one non-blocking
/// <c>poll()</c>. On Linux it calls libc directly through <see cref="NativePoll"/>:
/// <see cref="Socket.Poll(int, SelectMode)"/> wraps the same syscall in layers that cost more
/// than the rest of an idle hit. Elsewhere it uses <see cref="Socket.Poll(int, SelectMode)"/>.
/// </summary>
internal static class ReadinessProbe
{
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
}
