namespace TuplePool;

/// <summary>
/// Why an acquire was refused (<see cref="TupleBudgetExhaustedException.Cause"/>): what held the
/// room the caller needed when the pool gave up. The README's "Refusal causes" table says what to
/// do about each.
/// </summary>
public enum RefusalCause
{
    /// <summary>
    /// The usage the refusal carries shows no cause: none was recorded, or room came back between
    /// the end of the wait and the reading of the usage.
    /// </summary>
    Unknown = 0,

    /// <summary>
    /// The ports are held by the pool's own open connections — leased out or being opened (or
    /// idle for another destination of the same address): a backend slow to answer, or leases
    /// that are never disposed. The message names the oldest leases and how long they have been out.
    /// </summary>
    ActiveConnections,

    /// <summary>The ports are in TIME_WAIT after the pool's own graceful closes (<see cref="TupleUsage.TimeWait"/>).</summary>
    TimeWait,

    /// <summary>
    /// The kernel refused the ports: TIME_WAIT sockets the pool does not own hold them — closes of
    /// an earlier process (a restart within 60 s) or the pool's own closes outliving their charge
    /// (<see cref="TupleUsage.ExternalTimeWait"/>).
    /// </summary>
    ExternalTimeWait,

    /// <summary>The kernel refused the ports: other sockets on the machine hold them, other programs' connections on the same tuple (<see cref="TupleUsage.External"/>).</summary>
    HeldByOtherSockets,

    /// <summary>The destination had <see cref="TuplePoolOptions.MaxConnectionsPerDestination"/> connections open, whatever ports were free.</summary>
    ConnectionLimit,

    /// <summary>The source addresses that had free ports were quarantined: binding to them failed (<see cref="TuplePoolOptions.SourceQuarantine"/>).</summary>
    SourcesQuarantined,

    /// <summary>The NAT on the path had no port left to the destination (<see cref="TuplePoolOptions.Nat"/>, <see cref="TupleBudgetExhaustedException.NatIsTheLimit"/>).</summary>
    Nat,

    /// <summary>
    /// <see cref="TuplePoolOptions.MaxPendingAcquires"/> callers were already waiting, so this one
    /// was refused at once; the message says what they wait for.
    /// </summary>
    WaitLineFull,

    /// <summary>
    /// The ports are held by the pool's own closed connections the kernel has not let go yet
    /// (FIN-WAIT-1/2, CLOSING, LAST-ACK, <see cref="TupleUsage.Closing"/>): peers slow to answer the
    /// close, that never read, or that died.
    /// </summary>
    ClosingConnections,
}
