using TuplePool.Internal;

namespace TuplePool.Budget;

/// <summary>
/// The budget of one tuple: how many of its ports are open (connecting, leased or idle), how
/// many sit in TIME_WAIT after our own graceful closes, and how many the kernel census says
/// other sockets hold. Time is a <see cref="TimeProvider"/> timestamp.
/// </summary>
/// <remarks>
/// Reservations happen only on the slow path (a new connection), so one lock keeps every
/// counter exact and the TIME_WAIT queue ordered; the idle-hit path never touches a ledger.
/// TIME_WAIT entries are appended with a fixed duration per ledger, so the queue is sorted by
/// expiry and expiring is a walk from the front.
/// </remarks>
internal sealed class TupleLedger
{
    private readonly object _gate = new();
    private TimeWaitQueue _timeWaitExpiries; // a mutable struct: never copy it, never make it readonly
    private readonly long _timeWaitTicks;
    private int _open;
    private int _external;
    private int _externalTimeWait;
    private long _externalUntil;
    private bool _aboveNinetyPercent;
    private bool _retired;

    public TupleLedger(ConnectionTuple tuple, int capacity, TimeSpan timeWaitCharge, TimeProvider timeProvider)
    {
        Tuple = tuple;
        Capacity = Math.Max(0, capacity);
        TimeWaitCharge = timeWaitCharge;
        TimeProvider = timeProvider;
        _timeWaitTicks = Timestamps.ToTicks(timeWaitCharge, timeProvider);
    }

    public ConnectionTuple Tuple { get; }

    public int Capacity { get; }

    /// <summary>How long a graceful close by this side keeps a port charged.</summary>
    public TimeSpan TimeWaitCharge { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>Connections counted against this tuple: connecting, leased or idle.</summary>
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

    /// <summary>Our own TIME_WAIT ports not yet expired.</summary>
    public int TimeWait
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return _timeWaitExpiries.Count;
            }
        }
    }

    /// <summary>Ports free for a new connection now.</summary>
    public int Remaining
    {
        get
        {
            lock (_gate)
            {
                return RemainingLocked(TimeProvider.GetTimestamp());
            }
        }
    }

    /// <summary>Taken out of its budget: it reserves nothing more (the budget hands out a fresh one for the tuple).</summary>
    public bool IsRetired => Volatile.Read(ref _retired);

    /// <summary>Retires the ledger when nothing is open, in TIME_WAIT or held by others on its tuple.</summary>
    public bool TryRetire()
    {
        lock (_gate)
        {
            ExpireLocked(TimeProvider.GetTimestamp());
            if (_open != 0 || _timeWaitExpiries.Count != 0 || _external != 0)
            {
                return false;
            }

            Volatile.Write(ref _retired, true);
            return true;
        }
    }

    /// <summary>Takes one port if there is room (<see cref="TupleBudget.TryCharge"/> wraps it in the charge that gives it back).</summary>
    public bool TryReserve()
    {
        lock (_gate)
        {
            if (_retired || RemainingLocked(TimeProvider.GetTimestamp()) <= 0)
            {
                return false;
            }

            _open++;
            return true;
        }
    }

    /// <summary>
    /// Gives back a port taken with <see cref="TryReserve"/>. Returns <see cref="long.MaxValue"/>
    /// when nothing is left charged on the tuple (the ledger can go), else when the next charged
    /// port frees by itself (a TIME_WAIT or correction expiry, a timestamp), or 0 when only open
    /// connections are left (their closes come back here).
    /// </summary>
    public long Release(ReleaseKind kind)
    {
        lock (_gate)
        {
            if (_open <= 0)
            {
                throw new InvalidOperationException($"Tuple {Tuple}: release without a reservation.");
            }

            _open--;
            var now = TimeProvider.GetTimestamp();
            if (kind == ReleaseKind.TimeWait && _timeWaitTicks > 0)
            {
                _timeWaitExpiries.Enqueue(now + _timeWaitTicks);
            }

            ExpireLocked(now);
            return _open == 0 && _timeWaitExpiries.Count == 0 && _external == 0
                ? long.MaxValue
                : NextExpiryLocked() ?? 0;
        }
    }

    /// <summary>Nothing open, in TIME_WAIT or held by others (after expiring what is due): the ledger could go.</summary>
    public bool HoldsNothing
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return _open == 0 && _timeWaitExpiries.Count == 0 && _external == 0;
            }
        }
    }

    /// <summary>
    /// The kernel said <c>EADDRNOTAVAIL</c> for this tuple: at that moment it had no free port,
    /// whatever the ledger believed. Others hold ports we do not count — other processes, ports
    /// any socket owns through a plain <c>bind()</c> (the census cannot tell those apart), our own
    /// TIME_WAIT outliving its charge. The kernel is the authority, so until
    /// <paramref name="holdFor"/> has passed every port we do not hold is counted as taken; a
    /// partial correction from the census would leave "room" the kernel refuses, and acquirers
    /// would spin on it. Returns how many ports we hold (for the log line).
    /// </summary>
    /// <param name="holdFor">How long the tuple counts as full.</param>
    /// <param name="kernelTimeWait">The sockets on the tuple the kernel lists in TIME_WAIT (the census, read with the refusal); those of the external ports are named as such.</param>
    public int CorrectFromKernel(TimeSpan holdFor, int kernelTimeWait = 0)
    {
        lock (_gate)
        {
            var now = TimeProvider.GetTimestamp();
            ExpireLocked(now);
            var ours = _open - 1 + _timeWaitExpiries.Count; // the failed attempt still holds its reservation

            // The kernel's TIME_WAIT count includes our own charged ones; the rest are others'.
            _external = Math.Max(0, Capacity - ours);
            _externalTimeWait = Math.Clamp(kernelTimeWait - _timeWaitExpiries.Count, 0, _external);
            _externalUntil = now + Timestamps.ToTicks(holdFor, TimeProvider);
            return ours;
        }
    }

    /// <summary>Ports seen held by other sockets (census correction still in force).</summary>
    public int External
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return _external;
            }
        }
    }

    /// <summary>Of <see cref="External"/>, the ports the kernel listed in TIME_WAIT when it refused (correction still in force).</summary>
    public int ExternalTimeWait
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return _externalTimeWait;
            }
        }
    }

    /// <summary>When the next charged port frees by itself (TIME_WAIT or correction expiry), or null.</summary>
    public long? NextExpiryTimestamp
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return NextExpiryLocked();
            }
        }
    }

    /// <summary>True once each time usage rises above 90 % of capacity (re-armed when it drops below 80 %).</summary>
    public bool CrossedNinetyPercent()
    {
        lock (_gate)
        {
            var used = Capacity - RemainingLocked(TimeProvider.GetTimestamp());
            if (!_aboveNinetyPercent && used * 10 > Capacity * 9)
            {
                _aboveNinetyPercent = true;
                return true;
            }

            if (_aboveNinetyPercent && used * 10 < Capacity * 8)
            {
                _aboveNinetyPercent = false;
            }

            return false;
        }
    }

    private long? NextExpiryLocked()
    {
        long? next = _timeWaitExpiries.Count > 0 ? _timeWaitExpiries.Peek() : null;
        if (_external > 0 && (next is null || _externalUntil < next))
        {
            next = _externalUntil;
        }

        return next;
    }

    private int RemainingLocked(long now)
    {
        ExpireLocked(now);
        return Math.Max(0, Capacity - _open - _timeWaitExpiries.Count - _external);
    }

    private void ExpireLocked(long now)
    {
        while (_timeWaitExpiries.Count > 0 && _timeWaitExpiries.Peek() <= now)
        {
            _timeWaitExpiries.Dequeue();
        }

        if (_external > 0 && _externalUntil <= now)
        {
            _external = 0;
            _externalTimeWait = 0;
        }
    }
}

/// <summary>
/// A ledger's TIME_WAIT expiries, oldest first (every entry has the same duration, so appending
/// keeps them sorted). Holds no array until the first one: most tuples never see a graceful close
/// of their own, and a crawl over many destinations keeps a ledger for each.
/// </summary>
internal struct TimeWaitQueue
{
    private Queue<long>? _expiries;

    public readonly int Count => _expiries?.Count ?? 0;

    public void Enqueue(long expiry) => (_expiries ??= new Queue<long>(4)).Enqueue(expiry);

    public readonly long Peek() => _expiries!.Peek();

    public void Dequeue()
    {
        _expiries!.Dequeue();
        if (_expiries.Count == 0)
        {
            _expiries = null; // give the memory back with the last one
        }
    }
}
