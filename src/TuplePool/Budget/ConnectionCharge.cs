namespace TuplePool.Budget;

/// <summary>
/// Every charge one new connection holds — the port of its local tuple, and behind a NAT the
/// NAT's port for its destination (drawn on the fleet's grant) — as one value that releases each
/// exactly once, whichever path the connection ends on: a failed connect, a cancelled or
/// discarded attempt, a close, an abandoned lease found by the reaper. The code that takes a
/// charge either hands it on (to the connection it opened) or releases it; no other path needs
/// a release of its own, and a second release is a no-op, so two parties racing to end one
/// connection cannot free its port twice.
/// </summary>
internal sealed class ConnectionCharge
{
    private readonly DestinationTuples? _entry;
    private int _released;

    /// <summary>A charge of the local tuple <paramref name="local"/> only, outside any budget entry (tests).</summary>
    public ConnectionCharge(TupleLedger local)
        : this(null, local, null)
    {
    }

    internal ConnectionCharge(DestinationTuples? entry, TupleLedger local, NatLedger? nat)
    {
        _entry = entry;
        Local = local;
        Nat = nat;
    }

    /// <summary>The local tuple's ledger, charged one port.</summary>
    public TupleLedger Local { get; }

    /// <summary>The NAT's ledger for the destination, charged one port; null when the destination is not behind the NAT.</summary>
    public NatLedger? Nat { get; }

    /// <summary>The local tuple this charge holds a port of.</summary>
    public ConnectionTuple Tuple => Local.Tuple;

    /// <summary>True once <see cref="Release"/> ran.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>
    /// Gives every charge back, leaving what <paramref name="kind"/> says the connection left
    /// behind (a TIME_WAIT charge, a NAT hold), and wakes the other destinations waiting for room
    /// on the address (not <paramref name="except"/>, which wakes its own line). True the first
    /// time; false, doing nothing, after.
    /// </summary>
    /// <param name="kind">What the close left on the tuple.</param>
    /// <param name="except">The destination closing the connection, or null.</param>
    /// <param name="natMappingGone">The NAT had already forgotten the flow (quiet past its idle timeout): its port frees without a hold.</param>
    /// <param name="local">The socket's local address and port, when known: the kernel is asked how long that 4-tuple stays held.</param>
    public bool Release(ReleaseKind kind, IRoomWatcher? except = null, bool natMappingGone = false, System.Net.IPEndPoint? local = null)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return false;
        }

        var ledgerFreesAt = Local.Release(kind, local);
        var natFreesAt = Nat?.Release(kind, natMappingGone) ?? 0;
        _entry?.Released(Local, ledgerFreesAt, natFreesAt, except);
        return true;
    }

    public override string ToString() => Tuple.ToString();
}
