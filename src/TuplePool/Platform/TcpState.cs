namespace TuplePool.Platform;

/// <summary>TCP states as numbered in <c>/proc/net/tcp</c> (include/net/tcp_states.h).</summary>
internal enum TcpState
{
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
    NewSynRecv = 12,
}
