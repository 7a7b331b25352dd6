using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// The few libc calls of the netlink census, by <c>[LibraryImport]</c> (source-generated, so
/// NativeAOT and trimming need nothing more). .NET's <see cref="System.Net.Sockets.Socket"/> has
/// no netlink endpoint type, and these are exactly the syscalls <c>ss</c> makes.
/// </summary>
internal static partial class SockDiagNative
{
    public const int AfNetlink = 16;
    public const int SockRaw = 3;

    /// <summary><c>SOCK_CLOEXEC</c> (= <c>O_CLOEXEC</c>, 02000000 on every architecture .NET runs on): a child process never inherits the socket.</summary>
    public const int SockCloexec = 0x80000;

    /// <summary><c>NETLINK_SOCK_DIAG</c> (linux/netlink.h).</summary>
    public const int NetlinkSockDiag = 4;

    public const int MsgTrunc = 0x20;
    public const int MsgDontWait = 0x40;

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static unsafe partial nint Send(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static unsafe partial nint Receive(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
