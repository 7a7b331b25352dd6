namespace TuplePool.Budget;

/// <summary>What a closed connection leaves behind on its tuple.</summary>
internal enum ReleaseKind
{
    /// <summary>Nothing: an abortive close (RST), a failed connect, or the peer closed first.</summary>
    Free,

    /// <summary>This side closed first: the tuple stays in TIME_WAIT.</summary>
    TimeWait,
}
