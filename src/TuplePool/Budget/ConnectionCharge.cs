using System.Diagnostics;

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
    private int _released;

    public ConnectionCharge(TupleLedger local)
    {
        Local = local;
    }

    /// <summary>The local tuple's ledger, charged one port.</summary>
    public TupleLedger Local { get; }

    /// <summary>The local tuple this charge holds a port of.</summary>
    public ConnectionTuple Tuple => Local.Tuple;

    /// <summary>True once <see cref="Release"/> ran.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>
    /// Gives every charge back, leaving what <paramref name="kind"/> says the connection left
    /// behind (a TIME_WAIT charge, a NAT hold). True the first time; false, doing nothing, after.
    /// </summary>
    public bool Release(ReleaseKind kind)
    {
        if (Interlocked.Exchange(ref _released, 1) != 0)
        {
            return false;
        }

        Local.Release(kind);
        return true;
    }

    public override string ToString()
    {
        Debug.Assert(Local is not null, "A charge always has its local tuple.");
        return Tuple.ToString();
    }
}
