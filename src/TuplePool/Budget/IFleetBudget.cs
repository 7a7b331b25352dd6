using System.Net;

namespace TuplePool;

/// <summary>
/// Where a pool gets its share of a NAT that several instances (a fleet) share: for each
/// destination, a grant of ports this instance may hold through the NAT. The pool never waits
/// on it synchronously and never calls it on an idle hit: it reads the grant when it opens a
/// connection, reports what it holds, and sleeps in its wait line until the budget says the
/// grant changed. An implementation grows the grant ahead of need (in the background) and hands
/// back what stays unused; <c>TuplePool.Redis.RedisFleetBudget</c> keeps the fleet's grants in
/// Redis.
/// </summary>
/// <remarks>
/// <para>All members must be thread-safe and return at once (no I/O on the caller's thread).</para>
/// <para>The grant counts ports the NAT holds for this instance: connections open through it and
/// ports still held after a close (<see cref="NatOptions.HoldAfterClose"/>,
/// <see cref="NatOptions.HoldAfterReset"/>). The pool never holds more than
/// <see cref="GetGrant"/> allows; when a grant shrinks below what is held (a lease lost), it
/// opens nothing new to that destination until enough is released.</para>
/// </remarks>
public interface IFleetBudget
{
    /// <summary>
    /// Called once by the pool that draws on this budget, before any other member. The returned
    /// registration is disposed when the pool is: the budget then hands back the grants nothing
    /// holds and lets the rest expire once the NAT's holds are over.
    /// </summary>
    /// <param name="nat">The NAT the fleet shares (<see cref="NatOptions.PortsPerDestination"/> is the fleet's capacity per destination).</param>
    /// <param name="grantChanged">Call when a destination's grant changed without a call from the pool (grown, lost, a fallback share): the pool wakes the callers waiting for it. Must not be called under a lock the pool could wait on.</param>
    IDisposable Attach(NatOptions nat, Action<IPEndPoint> grantChanged);

    /// <summary>Ports to <paramref name="destination"/> this instance may hold through the NAT now; 0 before the first grant.</summary>
    int GetGrant(IPEndPoint destination);

    /// <summary>
    /// What this instance holds to <paramref name="destination"/> through the NAT and how many of
    /// its callers wait for a port there: called whenever either changes. The budget asks for
    /// more when the grant runs low or callers wait, and hands back ports that stay unused.
    /// </summary>
    void Report(IPEndPoint destination, int held, int waiting);
}
