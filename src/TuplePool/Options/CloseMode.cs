namespace TuplePool;

/// <summary>How TuplePool closes a socket it no longer keeps.</summary>
public enum CloseMode
{
    /// <summary>
    /// Orderly shutdown (FIN). When this side closes first the kernel keeps the 4-tuple in
    /// TIME_WAIT for 60 s, and the pool charges that time against the tuple's budget.
    /// </summary>
    Graceful = 0,

    /// <summary>
    /// <c>SO_LINGER {on, 0}</c>: the close sends RST, leaves no TIME_WAIT, and frees the tuple
    /// at once. Data not yet delivered to the peer is discarded.
    /// </summary>
    Abortive = 1,
}
