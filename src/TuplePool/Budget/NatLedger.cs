using System.Net;
using TuplePool.Internal;

namespace TuplePool.Budget;

/// <summary>
/// A NAT's budget for one destination IP and port (<see cref="NatOptions"/>): the ports its
/// connections hold through the NAT — open, or still held by the NAT after a close
/// (<see cref="NatOptions.HoldAfterClose"/>) or a reset (<see cref="NatOptions.HoldAfterReset"/>) —
/// against what this instance may hold: <see cref="NatOptions.PortsPerDestination"/>, or its
/// share drawn from an <see cref="IFleetBudget"/>. Every local source leaves through the same
/// NAT, so one NAT ledger stands behind all the tuples to its destination.
/// </summary>
/// <remarks>Only the slow path (a new connection, a close) touches it; one lock keeps it exact.</remarks>
internal sealed class NatLedger
{
    private readonly object _gate = new();
    private readonly int _ports;
    private readonly long _holdAfterCloseTicks;
    private readonly long _holdAfterResetTicks;
    private readonly IFleetBudget? _fleet;
    private readonly TimeProvider _time;
    private TimeWaitQueue _closeHolds; // mutable structs: never copied
    private TimeWaitQueue _resetHolds;
    private int _open;

    public NatLedger(IPEndPoint destination, NatOptions nat, IFleetBudget? fleet, TimeProvider time)
    {
        Destination = destination;
        _ports = nat.PortsPerDestination;
        _holdAfterCloseTicks = Timestamps.ToTicks(nat.HoldAfterClose, time);
        _holdAfterResetTicks = Timestamps.ToTicks(nat.HoldAfterReset, time);
        _fleet = fleet;
        _time = time;
    }

    public IPEndPoint Destination { get; }

    /// <summary>Ports this instance may hold through the NAT to the destination now: the NAT's, or the fleet's grant when that is smaller.</summary>
    public int Limit => _fleet is null ? _ports : Math.Min(_ports, Math.Max(0, _fleet.GetGrant(Destination)));

    /// <summary>The fleet's grant for the destination, or null without a fleet.</summary>
    public int? Grant => _fleet?.GetGrant(Destination);

    /// <summary>Connections open through the NAT (connecting, leased or idle).</summary>
    public int Open
    {
        get
        {
            lock (_gate)
            {
                return _open;
            }
        }
    }

    /// <summary>Ports the NAT still holds after closes and resets.</summary>
    public int Holding
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(_time.GetTimestamp());
                return _closeHolds.Count + _resetHolds.Count;
            }
        }
    }

    /// <summary>Open plus holding: what the NAT gives this instance now.</summary>
    public int Held
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(_time.GetTimestamp());
                return HeldLocked;
            }
        }
    }

    public int Remaining => Math.Max(0, Limit - Held);

    public bool HoldsNothing => Held == 0;

    private int HeldLocked => _open + _closeHolds.Count + _resetHolds.Count;

    /// <summary>Takes one port through the NAT if the limit allows.</summary>
    public bool TryReserve()
    {
        var limit = Limit; // read outside the lock: the fleet's own state
        lock (_gate)
        {
            ExpireLocked(_time.GetTimestamp());
            if (HeldLocked >= limit)
            {
                return false;
            }

            _open++;
            return true;
        }
    }

    /// <summary>Undoes a reservation no connection was attempted on (its local tuple had no room): nothing reached the NAT.</summary>
    public void Unreserve()
    {
        lock (_gate)
        {
            _open--;
        }
    }

    /// <summary>
    /// A connection through the NAT ended: its port stays held for the NAT's hold after a close
    /// or a reset, or frees at once when the NAT had already forgotten the flow
    /// (<paramref name="mappingGone"/>: it was quiet past the NAT's idle timeout). Returns when
    /// the hold ends (a timestamp; 0 when none).
    /// </summary>
    public long Release(ReleaseKind kind, bool mappingGone)
    {
        lock (_gate)
        {
            _open--;
            if (mappingGone)
            {
                return 0;
            }

            var now = _time.GetTimestamp();
            if (kind == ReleaseKind.Free)
            {
                if (_holdAfterResetTicks > 0)
                {
                    _resetHolds.Enqueue(now + _holdAfterResetTicks);
                    return now + _holdAfterResetTicks;
                }
            }
            else if (_holdAfterCloseTicks > 0)
            {
                _closeHolds.Enqueue(now + _holdAfterCloseTicks);
                return now + _holdAfterCloseTicks;
            }

            return 0;
        }
    }

    /// <summary>When the next hold ends, or null when none is running.</summary>
    public long? NextExpiryTimestamp
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(_time.GetTimestamp());
                long? next = _closeHolds.Count > 0 ? _closeHolds.Peek() : null;
                if (_resetHolds.Count > 0 && (next is null || _resetHolds.Peek() < next))
                {
                    next = _resetHolds.Peek();
                }

                return next;
            }
        }
    }

    private void ExpireLocked(long now)
    {
        while (_closeHolds.Count > 0 && _closeHolds.Peek() <= now)
        {
            _closeHolds.Dequeue();
        }

        while (_resetHolds.Count > 0 && _resetHolds.Peek() <= now)
        {
            _resetHolds.Dequeue();
        }
    }
}
