namespace TuplePool.Platform;

/// <summary>Every socket of the machine's table (in the states asked for), read once, each socket once.</summary>
/// <param name="Sockets">The sockets.</param>
/// <param name="Backend">Where they were read from.</param>
/// <param name="MalformedLines"><c>/proc</c> lines that did not have the kernel's shape and were skipped (0 from netlink).</param>
/// <param name="DuplicatesDropped">Reports of a socket already read (the repeated lines of <c>/proc</c>) that were dropped.</param>
/// <param name="UnreadableFiles"><c>/proc</c> files that could not be read (empty from netlink).</param>
/// <param name="FallbackReason">Why netlink was not used, when it was not; null when it was.</param>
internal sealed record KernelSocketTable(
    IReadOnlyList<KernelSocket> Sockets,
    CensusBackend Backend,
    int MalformedLines,
    int DuplicatesDropped,
    IReadOnlyList<string> UnreadableFiles,
    string? FallbackReason)
{
    /// <summary>Nothing read: neither backend answered.</summary>
    public static KernelSocketTable Unavailable(IReadOnlyList<string> unreadableFiles, string? reason)
        => new([], CensusBackend.Unavailable, 0, 0, unreadableFiles, reason);
}
