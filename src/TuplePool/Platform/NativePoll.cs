using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// One zero-timeout <c>poll()</c> on one socket, straight into libc (Linux only). The idle-hit
/// liveness check (<see cref="ReadinessProbe"/>) and the direct connect's "is the handshake
/// already done?" look both use it: <see cref="Socket.Poll(int, SelectMode)"/> wraps the same
/// syscall in layers that cost more than the rest of either path, and this costs exactly one
/// syscall and no allocation (the <c>pollfd</c> lives on the stack).
/// </summary>
internal static partial class NativePoll
{
    // poll() event bits (asm-generic; the same on every architecture .NET runs on).
    public const short In = 0x0001;
    public const short Out = 0x0004;
    public const short Err = 0x0008;
    public const short Hup = 0x0010;
    public const short Nval = 0x0020;
    public const short RdHup = 0x2000;

    /// <summary>
    /// Asks <c>poll()</c> once, with a zero timeout, for <paramref name="events"/> on the socket's
    /// descriptor. Linux only.
    /// </summary>
    /// <returns>
    /// <c>poll()</c>'s result: 1 when the descriptor reported something, 0 when nothing, -1 when
    /// the call failed.
    /// </returns>
    /// <param name="socket">The socket; a disposed one throws <see cref="ObjectDisposedException"/>.</param>
    /// <param name="events">The events asked for (<see cref="In"/>, <see cref="Out"/>, <see cref="RdHup"/>, …).</param>
    /// <param name="returnedEvents">The events the kernel reported (<c>revents</c>); 0 when the call failed.</param>
    public static unsafe int PollNow(Socket socket, short events, out short returnedEvents)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            // Keeps the descriptor from being closed and reused under the call.
            handle.DangerousAddRef(ref added);
            var fd = new PollFd { Fd = (int)handle.DangerousGetHandle(), Events = events };
            var result = LibcPoll(&fd, 1, 0);
            returnedEvents = result < 0 ? (short)0 : fd.Revents;
            return result;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    // A zero-timeout poll() never blocks and returns within a few hundred nanoseconds, so the
    // GC transition (a large part of a P/Invoke's fixed cost) can be skipped.
    [LibraryImport("libc", EntryPoint = "poll")]
    [SuppressGCTransition]
    private static unsafe partial int LibcPoll(PollFd* fds, nuint count, int timeout);

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
