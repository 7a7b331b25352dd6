using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// How many bytes a TCP socket still holds that it has not sent: one <c>ioctl(SIOCOUTQNSD)</c>
/// straight into libc (Linux only), for the idle check (<see cref="ReadinessProbe"/>). .NET has
/// no call for it (<see cref="Socket.IOControl(int, byte[], byte[])"/> supports only a few codes
/// on Linux), and, as with <see cref="NativePoll"/>, it costs exactly one syscall and no allocation.
/// </summary>
/// <remarks>
/// <para><b>Why "not sent" and not "not acknowledged".</b> Linux offers both: <c>SIOCOUTQ</c>
/// counts every byte still in the send queue, sent or not, until the peer acknowledges it;
/// <c>SIOCOUTQNSD</c> counts only the bytes not yet sent. A healthy socket often has sent bytes
/// that are not yet acknowledged: a caller whose last act was a write (a request it does not wait
/// on, a protocol's closing message) returns the socket while the peer's delayed ACK (40 ms or
/// more on Linux, up to 500 ms elsewhere, RFC 1122 §4.2.3.2) or the round trip is still to come.
/// Counting those would close a good socket on every such return, and with it the point of
/// pooling. (A socket whose request was answered holds neither: the answer acknowledged it.)
/// Bytes not yet sent are the ones that harm the next caller — they go out ahead of its request,
/// and while the peer's window is shut they make its write block — and they are what a write the
/// caller cancelled, or gave up on, leaves behind.</para>
/// <para><c>SIOCOUTQNSD</c> (0x894B, <c>linux/sockios.h</c>, Linux ≥ 2.6.38) has the same
/// number on every architecture, unlike <c>SIOCOUTQ</c> (<c>TIOCOUTQ</c>, which varies). For TCP
/// the kernel answers it without taking the socket's lock, so the call never blocks, which is
/// what <see cref="SuppressGCTransitionAttribute"/> requires.</para>
/// </remarks>
internal static partial class NativeSendQueue
{
    private const nuint SiocOutqNsd = 0x894B;

    /// <summary>
    /// Bytes written to <paramref name="socket"/> that the kernel has not sent yet; -1 when the
    /// call failed. Linux only.
    /// </summary>
    /// <param name="socket">The socket; a disposed one throws <see cref="ObjectDisposedException"/>.</param>
    public static unsafe int UnsentBytes(Socket socket)
    {
        var handle = socket.SafeHandle;
        var added = false;
        try
        {
            // Keeps the descriptor from being closed and reused under the call.
            handle.DangerousAddRef(ref added);
            var bytes = 0;
            return LibcIoctl((int)handle.DangerousGetHandle(), SiocOutqNsd, &bytes) < 0 ? -1 : bytes;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    // ioctl() is variadic in C; its third argument, a pointer, is passed as a fixed one. On the
    // 64-bit Linux ABIs .NET runs on (x86-64 System V, AArch64) a pointer goes in the same register
    // either way.
    [LibraryImport("libc", EntryPoint = "ioctl")]
    [SuppressGCTransition]
    private static unsafe partial int LibcIoctl(int fd, nuint request, int* value);
}
