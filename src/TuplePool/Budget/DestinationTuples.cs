using System.Net;

namespace TuplePool.Budget;

/// <summary>
/// What the budget holds for one destination address (IP and port): a ledger for each source
/// whose tuple to it holds something, the NAT's ledger when the address is behind one, and the
/// pool's destinations with callers waiting for room on it. It lives while any of these holds
/// something, so memory follows use: a source that never connected to the address has no ledger
/// (it has its whole capacity), and an address nothing holds is dropped.
/// </summary>
/// <remarks>
/// <para>Reads are lock-free: the ledgers and watchers are arrays replaced whole under the gate
/// (copy on write), so a selection walks a consistent array while a close adds or drops one. The
/// counts themselves are each ledger's own.</para>
/// <para>Retirement: an entry that holds nothing is retired under the gate before it is taken
/// out of the budget; a charge or a watch that meets a retired entry goes to the fresh one the
/// budget makes, so nothing is ever charged to an entry that is gone.</para>
/// </remarks>
internal sealed class DestinationTuples
{
    private readonly object _gate = new();
    private readonly TupleBudget _budget;
    private TupleLedger[] _ledgers = [];
    private IRoomWatcher[] _watchers = [];
    private bool _retired;

    public DestinationTuples(TupleBudget budget, IPEndPoint destination, NatLedger? nat)
    {
        _budget = budget;
        Destination = destination;
        Nat = nat;
    }

    /// <summary>The address; the budget's own copy, a dictionary key.</summary>
    public IPEndPoint Destination { get; }

    /// <summary>The NAT's ledger for the address, or null when it is not behind the NAT.</summary>
    public NatLedger? Nat { get; }

    /// <summary>The ledgers of sources that hold something on their tuple to the address.</summary>
    public IReadOnlyList<TupleLedger> Ledgers => Volatile.Read(ref _ledgers);

    public bool IsRetired => Volatile.Read(ref _retired);

    /// <summary>When the budget's expiry queue will next look at this entry; 0 when it is not in the queue. Guarded by the queue's lock.</summary>
    internal long ScheduledAt { get; set; }

    /// <summary>The ledger of <paramref name="source"/>'s tuple, or null when it holds nothing.</summary>
    public TupleLedger? Find(IPAddress source)
    {
        var ledgers = Volatile.Read(ref _ledgers);
        for (var i = 0; i < ledgers.Length; i++)
        {
            if (ledgers[i].Tuple.Source.Equals(source))
            {
                return ledgers[i];
            }
        }

        return null;
    }

    /// <summary>Ports free on <paramref name="source"/>'s tuple (its whole capacity when it holds nothing), without the NAT.</summary>
    public int RemainingFor(IPAddress source) => Find(source)?.Remaining ?? _budget.CapacityPerTuple;

    /// <summary>The NAT lets another connection through (or there is no NAT).</summary>
    public bool NatHasRoom => Nat is null || Nat.Remaining > 0;

    /// <summary>
    /// Charges one port of <paramref name="source"/>'s tuple and, behind a NAT, one of the NAT's:
    /// both or neither. Null when either has no room; <paramref name="tryAgain"/> when the entry
    /// or the ledger was retired meanwhile (the caller asks the budget again).
    /// </summary>
    public ConnectionCharge? TryCharge(IPAddress source, out bool tryAgain)
    {
        tryAgain = false;
        var nat = Nat;
        if (nat is not null && !nat.TryReserve())
        {
            _budget.ReportToFleet(this, atLeastWaiting: 1); // this caller is about to wait for the NAT
            return null;
        }

        var ledger = GetOrAdd(source);
        if (ledger is not null && ledger.TryReserve())
        {
            if (nat is not null)
            {
                _budget.ReportToFleet(this);
            }

            return new ConnectionCharge(this, ledger, nat);
        }

        nat?.Unreserve();
        tryAgain = ledger is null || ledger.IsRetired;
        return null;
    }

    /// <summary>
    /// A charge was released: drops the ledger (and the whole entry) when nothing is left, or
    /// schedules the entry for when its next hold ends; then wakes the watchers other than
    /// <paramref name="except"/> (which wakes its own line).
    /// </summary>
    internal void Released(TupleLedger ledger, long ledgerFreesAt, long natFreesAt, IRoomWatcher? except)
    {
        if (ledgerFreesAt == long.MaxValue)
        {
            Drop(ledger);
        }

        long? next = ledgerFreesAt is not 0 and not long.MaxValue ? ledgerFreesAt : null;
        if (natFreesAt != 0 && (next is null || natFreesAt < next))
        {
            next = natFreesAt;
        }

        if (next is { } at)
        {
            _budget.ScheduleExpiry(this, at);
        }
        else
        {
            _budget.RemoveIfEmpty(this);
        }

        if (Nat is not null)
        {
            _budget.ReportToFleet(this);
        }

        NotifyWatchers(except);
    }

    /// <summary>Registers <paramref name="watcher"/> for room on this address; false when the entry was retired (watch the fresh one).</summary>
    public bool Watch(IRoomWatcher watcher)
    {
        lock (_gate)
        {
            if (_retired)
            {
                return false;
            }

            var watchers = _watchers;
            if (Array.IndexOf(watchers, watcher) < 0)
            {
                _watchers = [.. watchers, watcher];
            }

            return true;
        }
    }

    /// <summary>
    /// Drops <paramref name="watcher"/>; with <paramref name="onlyIfIdle"/> only when it has nobody
    /// waiting, read under the gate: a caller that joins the watcher's line before this look keeps
    /// it, one that joins after watches again itself.
    /// </summary>
    public void Unwatch(IRoomWatcher watcher, bool onlyIfIdle)
    {
        lock (_gate)
        {
            var watchers = _watchers;
            var index = Array.IndexOf(watchers, watcher);
            if (index < 0 || (onlyIfIdle && watcher.Waiting != 0))
            {
                return;
            }

            _watchers = [.. watchers[..index], .. watchers[(index + 1)..]];
        }

        _budget.RemoveIfEmpty(this);
    }

    /// <summary>Callers of every watcher waiting for room here.</summary>
    public int Waiting
    {
        get
        {
            var waiting = 0;
            foreach (var watcher in Volatile.Read(ref _watchers))
            {
                waiting += watcher.Waiting;
            }

            return waiting;
        }
    }

    /// <summary>Room may be free here: one wake for each watcher but <paramref name="except"/>; watchers whose lines emptied are dropped.</summary>
    public void NotifyWatchers(IRoomWatcher? except = null)
    {
        var watchers = Volatile.Read(ref _watchers);
        if (watchers.Length == 0)
        {
            return;
        }

        var idle = false;
        foreach (var watcher in watchers)
        {
            if (watcher.Waiting == 0)
            {
                idle = true;
            }
            else if (!ReferenceEquals(watcher, except))
            {
                watcher.RoomMayBeFree();
            }
        }

        if (idle)
        {
            DropIdleWatchers();
        }
    }

    /// <summary>
    /// Expires what is due on every ledger and the NAT's, drops what holds nothing, and says when
    /// the next hold ends (null when none is left). It wakes nobody: each destination with callers
    /// waiting has armed its own expiry timer for the same moment (<c>TupleLookup.NextExpiry</c>), and
    /// a second wake would only set two waiters racing for one port, out of their order in line.
    /// </summary>
    internal long? Expire()
    {
        long? next = null;
        foreach (var ledger in Volatile.Read(ref _ledgers))
        {
            if (ledger.HoldsNothing)
            {
                Drop(ledger);
            }
            else if (ledger.NextDueTimestamp is { } at && (next is null || at < next))
            {
                next = at;
            }
        }

        if (Nat?.NextExpiryTimestamp is { } natAt && (next is null || natAt < next))
        {
            next = natAt;
        }

        if (Nat is not null)
        {
            _budget.ReportToFleet(this);
        }

        return next;
    }

    /// <summary>Retires the entry when no ledger, no NAT port and no watcher is left; true when it did.</summary>
    internal bool TryRetire()
    {
        lock (_gate)
        {
            if (_retired)
            {
                return true;
            }

            if (_ledgers.Length != 0 || _watchers.Length != 0 || (Nat is not null && !Nat.HoldsNothing))
            {
                return false;
            }

            Volatile.Write(ref _retired, true);
            return true;
        }
    }

    private TupleLedger? GetOrAdd(IPAddress source)
    {
        if (Find(source) is { IsRetired: false } found)
        {
            return found;
        }

        lock (_gate)
        {
            if (_retired)
            {
                return null;
            }

            var ledgers = _ledgers;
            foreach (var ledger in ledgers)
            {
                if (ledger.Tuple.Source.Equals(source) && !ledger.IsRetired)
                {
                    return ledger;
                }
            }

            var created = _budget.CreateLedger(new ConnectionTuple(source, Destination));
            _ledgers = [.. ledgers.Where(l => !l.IsRetired), created];
            return created;
        }
    }

    private void Drop(TupleLedger ledger)
    {
        lock (_gate)
        {
            if (!ledger.TryRetire())
            {
                return; // charged again meanwhile
            }

            var ledgers = _ledgers;
            var index = Array.IndexOf(ledgers, ledger);
            if (index >= 0)
            {
                _ledgers = [.. ledgers[..index], .. ledgers[(index + 1)..]];
            }
        }
    }

    private void DropIdleWatchers()
    {
        lock (_gate)
        {
            // Under the gate, against Watch: a watcher that joins its line and then watches is
            // either seen with a caller waiting here, or added back by its own Watch after this.
            _watchers = [.. _watchers.Where(w => w.Waiting != 0)];
        }
    }
}
