using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// "Is anything waiting on this idle socket?" — unread bytes, FIN or RST — in one non-blocking
/// <c>poll()</c>. On Linux it calls libc directly: <see cref="Socket.Poll(int, SelectMode)"/>
/// wraps the same syscall in layers that cost more than the rest of an idle hit. Elsewhere it
/// uses <see cref="Socket.Poll(int, SelectMode)"/>.
/// </summary>
internal static partial class ReadinessProbe
{
    private const short PollIn = 0x0001;
    private const short PollErr = 0x0008;
    private const short PollHup = 0x0010;
    private const short PollNval = 0x0020;
    private const short PollRdHup = 0x2000;

    /// <summary>True when the socket has bytes, end of stream or an error to report.</summary>
    public static bool IsReadable(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return socket.Poll(0, SelectMode.SelectRead);
        }

        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            // Keeps the descriptor from being closed and reused under the call.
            handle.DangerousAddRef(ref added);
            var fd = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = PollIn | PollRdHup };
            var ready = PollOne(ref fd);
            return ready != 0 || (fd.Revents & (PollIn | PollErr | PollHup | PollNval | PollRdHup)) != 0;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static unsafe int PollOne(ref PollFd fd)
    {
        fixed (PollFd* pointer = &fd)
        {
            return Poll(pointer, 1, 0);
        }
    }

    // A zero-timeout poll() never blocks and returns within a few hundred nanoseconds, so the
    // GC transition (a large part of a P/Invoke's fixed cost) can be skipped.
    [LibraryImport("libc", EntryPoint = "poll")]
    [SuppressGCTransition]
    private static unsafe partial int Poll(PollFd* fds, nuint count, int timeout);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
