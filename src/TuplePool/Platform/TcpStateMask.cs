namespace TuplePool.Platform;

/// <summary>
/// A set of <see cref="TcpState"/>s, one bit per state number (<c>1 &lt;&lt; state</c>): the
/// <c>idiag_states</c> mask of <c>inet_diag_req_v2</c> (the kernel's <c>TCPF_*</c> flags).
/// </summary>
[Flags]
internal enum TcpStateMask
{
    None = 0,
    Established = 1 << (int)TcpState.Established,
    SynSent = 1 << (int)TcpState.SynSent,
    SynRecv = 1 << (int)TcpState.SynRecv,
    FinWait1 = 1 << (int)TcpState.FinWait1,
    FinWait2 = 1 << (int)TcpState.FinWait2,
    TimeWait = 1 << (int)TcpState.TimeWait,
    Close = 1 << (int)TcpState.Close,
    CloseWait = 1 << (int)TcpState.CloseWait,
    LastAck = 1 << (int)TcpState.LastAck,
    Listen = 1 << (int)TcpState.Listen,
    Closing = 1 << (int)TcpState.Closing,
    NewSynRecv = 1 << (int)TcpState.NewSynRecv,

    /// <summary>Every state but LISTEN: the sockets that hold a port of a (source, destination, port) tuple.</summary>
    Connections = All & ~Listen,

    /// <summary>
    /// The states a connection passes through after its own side closed (FIN-WAIT-1/2, CLOSING,
    /// LAST-ACK, TIME-WAIT): while it is in one of them it still holds its tuple.
    /// </summary>
    AfterClose = FinWait1 | FinWait2 | Closing | LastAck | TimeWait,

    All = Established | SynSent | SynRecv | FinWait1 | FinWait2 | TimeWait | Close | CloseWait | LastAck | Listen | Closing | NewSynRecv,
}
