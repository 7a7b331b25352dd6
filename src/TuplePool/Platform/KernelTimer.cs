namespace TuplePool.Platform;

/// <summary>
/// Which timer of a socket is running: <c>idiag_timer</c> of <c>inet_diag_msg</c> and the
/// <c>tr</c> column of <c>/proc/net/tcp</c> use the same numbers (net/ipv4/inet_diag.c,
/// net/ipv4/tcp_ipv4.c).
/// </summary>
internal enum KernelTimer
{
    /// <summary>No timer: the socket waits for nothing of its own.</summary>
    None = 0,

    /// <summary>Retransmission (also the loss probe and RACK reordering timers; a request socket's SYN-ACK).</summary>
    Retransmit = 1,

    /// <summary>
    /// <c>sk_timer</c>: keepalive, and for a socket that still has its descriptor the FIN-WAIT-2
    /// timeout (<c>tcp_fin_timeout</c>).
    /// </summary>
    KeepAlive = 2,

    /// <summary>A TIME-WAIT socket (or an orphaned FIN-WAIT-2 one kept as such) until it is freed.</summary>
    TimeWait = 3,

    /// <summary>Zero-window probe.</summary>
    ZeroWindowProbe = 4,
}
