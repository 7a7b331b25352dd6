namespace TuplePool.Platform;

/// <summary>How a census backend answered.</summary>
internal enum CensusStatus
{
    /// <summary>The answer is complete.</summary>
    Ok = 0,

    /// <summary>
    /// The backend cannot be used on this host (no permission, no inet_diag, a request it does
    /// not understand): asking again will not help, so the census stops trying it.
    /// </summary>
    Refused = 1,

    /// <summary>This attempt failed (out of memory or descriptors, a reply lost or cut short); the next may work.</summary>
    Failed = 2,
}
