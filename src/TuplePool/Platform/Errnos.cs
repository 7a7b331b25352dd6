using System.Globalization;
using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// The Linux error numbers the netlink census meets (asm-generic/errno-base.h and errno.h; the
/// same on every architecture .NET runs on), and which of them mean "this host will not answer".
/// </summary>
internal static class Errnos
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int EINVAL = 22;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int ENOSYS = 38;
    public const int EPROTONOSUPPORT = 93;
    public const int ESOCKTNOSUPPORT = 94;
    public const int EOPNOTSUPP = 95;
    public const int EPFNOSUPPORT = 96;
    public const int EAFNOSUPPORT = 97;
    public const int ENOBUFS = 105;

    /// <summary>
    /// True for an error that says netlink sock_diag is not there for us: no permission (a
    /// seccomp profile, a restricted container: <c>EPERM</c>, <c>EACCES</c>), no netlink or no
    /// sock_diag (<c>EAFNOSUPPORT</c>, <c>EPROTONOSUPPORT</c>, …), no inet_diag or tcp_diag handler
    /// (<c>ENOENT</c> from the kernel's handler lookup), or a request this kernel does not take
    /// (<c>EINVAL</c>, <c>EOPNOTSUPP</c>). Everything else (memory, descriptors, a lost reply) may
    /// pass.
    /// </summary>
    public static bool IsRefusal(int errno) => errno is EPERM or EACCES or ENOENT or EINVAL or ENOSYS
        or EPROTONOSUPPORT or ESOCKTNOSUPPORT or EOPNOTSUPP or EPFNOSUPPORT or EAFNOSUPPORT;

    /// <summary>The symbolic name (<c>EPERM</c>), or <c>errno N</c> for one not listed here.</summary>
    public static string Name(int errno) => errno switch
    {
        EPERM => nameof(EPERM),
        ENOENT => nameof(ENOENT),
        EINTR => nameof(EINTR),
        EAGAIN => nameof(EAGAIN),
        ENOMEM => nameof(ENOMEM),
        EACCES => nameof(EACCES),
        EBUSY => nameof(EBUSY),
        EINVAL => nameof(EINVAL),
        ENFILE => nameof(ENFILE),
        EMFILE => nameof(EMFILE),
        ENOSYS => nameof(ENOSYS),
        EPROTONOSUPPORT => nameof(EPROTONOSUPPORT),
        ESOCKTNOSUPPORT => nameof(ESOCKTNOSUPPORT),
        EOPNOTSUPP => nameof(EOPNOTSUPP),
        EPFNOSUPPORT => nameof(EPFNOSUPPORT),
        EAFNOSUPPORT => nameof(EAFNOSUPPORT),
        ENOBUFS => nameof(ENOBUFS),
        _ => string.Create(CultureInfo.InvariantCulture, $"errno {errno}"),
    };

    /// <summary>The C library's text for the error (<c>strerror</c>).</summary>
    public static string Describe(int errno) => Marshal.GetPInvokeErrorMessage(errno);
}
