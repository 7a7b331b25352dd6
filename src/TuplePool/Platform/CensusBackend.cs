namespace TuplePool.Platform;

/// <summary>Where a kernel census reads the socket table from.</summary>
internal enum CensusBackend
{
    /// <summary>Nothing could be read: netlink was refused and <c>/proc/net/tcp{,6}</c> are not readable.</summary>
    Unavailable = 0,

    /// <summary>
    /// <c>NETLINK_SOCK_DIAG</c> (inet_diag, what <c>ss</c> uses): the kernel filters by tuple and
    /// state and reports each socket once per dump.
    /// </summary>
    SockDiag = 1,

    /// <summary>
    /// <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>, read whole and filtered here, with the
    /// lines the kernel repeats while sockets change dropped.
    /// </summary>
    ProcNetTcp = 2,
}
