namespace TuplePool.Budget;

/// <summary>How a connection ended, which says what it leaves behind on its local tuple and at a NAT.</summary>
internal enum ReleaseKind
{
    /// <summary>Reset (an abortive close, RST) or never connected (a failed connect): nothing left on the local tuple; a NAT keeps the port for its reset hold.</summary>
    Free,

    /// <summary>Closed gracefully after the peer's FIN came first: the peer's side takes TIME_WAIT, nothing is left on the local tuple; a NAT keeps the port for its hold after a close.</summary>
    PeerClosedFirst,

    /// <summary>This side closed first: the local tuple stays in TIME_WAIT, and a NAT keeps the port for its hold after a close.</summary>
    TimeWait,
}
