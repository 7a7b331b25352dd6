using System.Net;
using TuplePool.Internal;
using TuplePool.Platform;

namespace TuplePool.Budget;

/// <summary>
/// The budget of one tuple: how many of its ports are open (connecting, leased or idle), which
/// ports our own closes left held by the kernel (<see cref="ClosedSocket"/>: TIME-WAIT, or still
/// closing), and how many the kernel says other sockets hold. Time is a <see cref="TimeProvider"/>
/// timestamp.
/// </summary>
/// <remarks>
/// <para>Reservations happen only on the slow path (a new connection), so one lock keeps every
/// counter exact; the idle-hit path never touches a ledger.</para>
/// <para>A closed socket stays charged for exactly as long as the kernel keeps its 4-tuple when
/// the kernel can be asked (<see cref="FollowsKernel"/>: the budget's follower looks each one up
/// by 4-tuple through <c>NETLINK_SOCK_DIAG</c>, see <see cref="TupleBudget.ExpireDue"/>): never
/// freed by time alone until the kernel said TIME-WAIT and how long it has left, freed at once when
/// the kernel no longer has it (a reset), and kept while it sits in FIN-WAIT, CLOSING or LAST-ACK.
/// Where the kernel cannot be asked, a graceful close of ours is charged <see cref="TimeWaitCharge"/>
/// from the close, and the peer's first close nothing.</para>
/// </remarks>
internal sealed class TupleLedger
{
    /// <summary>How soon after a close the follower first asks the kernel (its FIN/ACK exchange has settled by then).</summary>
    internal static readonly TimeSpan FirstCheckAfter = TimeSpan.FromSeconds(1);

    /// <summary>The longest between two looks at a socket still closing (FIN-WAIT, LAST-ACK): the delay doubles from one second up to this.</summary>
    internal static readonly TimeSpan LongestRecheck = TimeSpan.FromSeconds(16);

    private readonly object _gate = new();
    private readonly long _timeWaitTicks;
    private readonly long _timeWaitLengthTicks;
    private readonly long _firstCheckTicks;
    private readonly long _longestRecheckTicks;
    private List<ClosedSocket>? _closed;
    private int _open;
    private int _external;
    private int _externalTimeWait;
    private long _externalUntil;
    private bool _aboveNinetyPercent;
    private bool _retired;

    public TupleLedger(ConnectionTuple tuple, int capacity, TimeSpan timeWaitCharge, TimeProvider timeProvider, bool followsKernel = false)
    {
        Tuple = tuple;
        Capacity = Math.Max(0, capacity);
        TimeWaitCharge = timeWaitCharge;
        TimeProvider = timeProvider;
        FollowsKernel = followsKernel;
        _timeWaitTicks = Timestamps.ToTicks(timeWaitCharge, timeProvider);
        _timeWaitLengthTicks = Timestamps.ToTicks(TimeSpan.FromSeconds(60), timeProvider);
        _firstCheckTicks = Timestamps.ToTicks(FirstCheckAfter, timeProvider);
        _longestRecheckTicks = Timestamps.ToTicks(LongestRecheck, timeProvider);
    }

    public ConnectionTuple Tuple { get; }

    public int Capacity { get; }

    /// <summary>
    /// How long a graceful close by this side keeps a port charged when the kernel cannot be
    /// asked, and at most how long a TIME-WAIT the kernel may take over (<c>tcp_tw_reuse</c>) is charged.
    /// </summary>
    public TimeSpan TimeWaitCharge { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>The budget asks the kernel how long each closed socket keeps its tuple.</summary>
    public bool FollowsKernel { get; }

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

    /// <summary>
    /// Ports our own graceful first closes left in TIME-WAIT, as the kernel said (or, until it has
    /// been asked, as the close left them; where it cannot be asked, for the fixed charge).
    /// </summary>
    public int TimeWait
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return CountClosed(inTimeWait: true);
            }
        }
    }

    /// <summary>
    /// Ports of closed sockets the kernel still holds in FIN-WAIT-1/2, CLOSING or LAST-ACK (a peer
    /// that is slow to answer our FIN, never reads, or died), or not yet looked at after the peer
    /// closed first.
    /// </summary>
    public int Closing
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return CountClosed(inTimeWait: false);
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

    private int ClosedCount => _closed?.Count ?? 0;

    private int CountClosed(bool inTimeWait)
    {
        var count = 0;
        if (_closed is { } closed)
        {
            foreach (var socket in closed)
            {
                if (socket.IsTimeWait == inTimeWait)
                {
                    count++;
                }
            }
        }

        return count;
    }

    /// <summary>Retires the ledger when nothing is open, closing or held by others on its tuple.</summary>
    public bool TryRetire()
    {
        lock (_gate)
        {
            ExpireLocked(TimeProvider.GetTimestamp());
            if (_open != 0 || ClosedCount != 0 || _external != 0)
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
    /// Gives back a port taken with <see cref="TryReserve"/>, leaving the port charged as
    /// <paramref name="kind"/> says the close left it. <paramref name="local"/> is the socket's
    /// local address and port when known: the kernel is asked about that 4-tuple. Returns
    /// <see cref="long.MaxValue"/> when nothing is left charged on the tuple (the ledger can go),
    /// else when the ledger next needs a look (a charge running out, a question for the kernel; a
    /// timestamp), or 0 when only open connections are left (their closes come back here).
    /// </summary>
    public long Release(ReleaseKind kind, IPEndPoint? local = null)
    {
        lock (_gate)
        {
            if (_open <= 0)
            {
                throw new InvalidOperationException($"Tuple {Tuple}: release without a reservation.");
            }

            _open--;
            var now = TimeProvider.GetTimestamp();
            // Where the kernel reuses a TIME-WAIT tuple (tcp_tw_reuse), the charge is the reuse
            // delay, no longer than the first look: the timer decides, as it did before the look.
            var follow = FollowsKernel && local is not null && _timeWaitTicks > _firstCheckTicks;
            if (kind == ReleaseKind.TimeWait && (_timeWaitTicks > 0 || follow))
            {
                // Ours first: TIME-WAIT (or FIN-WAIT until the peer's FIN). Asked about, or charged the fixed time.
                Add(new ClosedSocket(local, OursFirst: true, now, now + _timeWaitTicks, follow ? now + _firstCheckTicks : 0, _firstCheckTicks, follow ? ClosedState.Unverified : ClosedState.Timer));
            }
            else if (kind == ReleaseKind.PeerClosedFirst && follow)
            {
                // The peer's first: LAST-ACK until our FIN is acknowledged, usually at once; asked about once.
                Add(new ClosedSocket(local, OursFirst: false, now, now, now + _firstCheckTicks, _firstCheckTicks, ClosedState.Unverified));
            }

            ExpireLocked(now);
            return _open == 0 && ClosedCount == 0 && _external == 0
                ? long.MaxValue
                : NextDueLocked() ?? 0;
        }
    }

    /// <summary>Nothing open, closing or held by others (after expiring what is due): the ledger could go.</summary>
    public bool HoldsNothing
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return _open == 0 && ClosedCount == 0 && _external == 0;
            }
        }
    }

    /// <summary>
    /// The closed sockets the kernel should be asked about by <paramref name="now"/>: their
    /// 4-tuples are added to <paramref name="lookups"/>.
    /// </summary>
    public void CollectDueChecks(long now, List<TcpFourTuple> lookups)
    {
        lock (_gate)
        {
            if (_closed is not { } closed)
            {
                return;
            }

            foreach (var socket in closed)
            {
                if (socket.NeedsCheckBy(now) && socket.Local is { } local)
                {
                    lookups.Add(FourTupleOf(local));
                }
            }
        }
    }

    /// <summary>
    /// The kernel's answer for the sockets due a look (<paramref name="found"/>: what it still has
    /// on this tuple, by local address and port): gone → the port is free now; TIME-WAIT → charged
    /// for the time it has left (less when <c>tcp_tw_reuse</c> lets a new connection take it over
    /// sooner); still closing → kept, asked again later. Returns how many sockets now free by
    /// themselves sooner than a waiter could have known: those freed, and those whose TIME-WAIT
    /// end is now known (a waiter armed no timer for a socket that had no end).
    /// </summary>
    public int ApplyKernelAnswer(long now, IReadOnlyDictionary<TcpFourTuple, KernelSocket> found)
    {
        lock (_gate)
        {
            if (_closed is not { } closed)
            {
                return 0;
            }

            var freed = 0;
            for (var i = closed.Count - 1; i >= 0; i--)
            {
                var socket = closed[i];
                if (!socket.NeedsCheckBy(now) || socket.Local is not { } local)
                {
                    continue;
                }

                if (!found.TryGetValue(FourTupleOf(local), out var seen) || !TcpStateMask.AfterClose.Contains(seen.State))
                {
                    // Gone (a reset, the TIME-WAIT over), or the 4-tuple already belongs to a new
                    // connection that took the TIME-WAIT over: either way the port is ours again.
                    closed.RemoveAt(i);
                    freed++;
                    continue;
                }

                if (seen.State == TcpState.TimeWait && seen.TimerLeft is { } left)
                {
                    closed[i] = socket.InTimeWait(ChargeOfTimeWait(now, left));
                    freed++;
                }
                else
                {
                    closed[i] = socket.StillClosing(now, _longestRecheckTicks);
                }
            }

            if (closed.Count == 0)
            {
                _closed = null;
            }

            return freed;
        }
    }

    /// <summary>The 4-tuple the census reports for a socket of this tuple with local end <paramref name="local"/> (no IPv6 scope: the kernel's answer has none).</summary>
    public TcpFourTuple FourTupleOf(IPEndPoint local)
        => new(Unscoped(local.Address), local.Port, Unscoped(Tuple.Destination.Address), Tuple.Destination.Port);

    internal static IPAddress Unscoped(IPAddress address)
        => address.IsIPv4MappedToIPv6 ? address.MapToIPv4()
            : address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && address.ScopeId != 0 ? new IPAddress(address.GetAddressBytes())
            : address;

    /// <summary>The kernel could not be asked this time: the sockets due a look are charged by the fixed time from their close.</summary>
    public void FallBackToTimer(long now)
    {
        lock (_gate)
        {
            if (_closed is not { } closed)
            {
                return;
            }

            for (var i = 0; i < closed.Count; i++)
            {
                if (closed[i].NeedsCheckBy(now))
                {
                    closed[i] = closed[i].AsTimer(_timeWaitTicks);
                }
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
            var ours = _open - 1 + ClosedCount; // the failed attempt still holds its reservation
            _external = Math.Max(0, Capacity - ours);

            // The kernel's TIME_WAIT count includes our own closes in TIME-WAIT; the rest are others'.
            _externalTimeWait = Math.Clamp(kernelTimeWait - CountClosed(inTimeWait: true), 0, _external);
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

    /// <summary>When the next charged port frees by itself (a TIME-WAIT charge or a correction running out), or null.</summary>
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

    /// <summary>When the ledger next needs a look: a charge running out, or a closed socket to ask the kernel about; null when neither.</summary>
    public long? NextDueTimestamp
    {
        get
        {
            lock (_gate)
            {
                ExpireLocked(TimeProvider.GetTimestamp());
                return NextDueLocked();
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
        long? next = null;
        if (_closed is { } closed)
        {
            foreach (var socket in closed)
            {
                if (socket.ExpiresByTime && (next is null || socket.ChargedUntil < next))
                {
                    next = socket.ChargedUntil;
                }
            }
        }

        if (_external > 0 && (next is null || _externalUntil < next))
        {
            next = _externalUntil;
        }

        return next;
    }

    private long? NextDueLocked()
    {
        var next = NextExpiryLocked();
        if (_closed is { } closed)
        {
            foreach (var socket in closed)
            {
                if (socket.NextCheck != 0 && (next is null || socket.NextCheck < next))
                {
                    next = socket.NextCheck;
                }
            }
        }

        return next;
    }

    /// <summary>
    /// How long to charge a TIME-WAIT the kernel says has <paramref name="left"/> to run: all of
    /// it, unless <c>tcp_tw_reuse</c> lets a new connection take the tuple over once the TIME-WAIT
    /// is <see cref="TimeWaitCharge"/> old (the kernel's TIME-WAIT lasts 60 s, so it began
    /// 60 s − left ago).
    /// </summary>
    private long ChargeOfTimeWait(long now, TimeSpan left)
    {
        var leftTicks = Timestamps.ToTicks(left, TimeProvider);
        if (_timeWaitTicks >= _timeWaitLengthTicks)
        {
            return now + leftTicks;
        }

        var began = now + leftTicks - _timeWaitLengthTicks;
        return Math.Max(now, Math.Min(now + leftTicks, began + _timeWaitTicks));
    }

    private void Add(ClosedSocket socket) => (_closed ??= new List<ClosedSocket>(2)).Add(socket);

    private int RemainingLocked(long now)
    {
        ExpireLocked(now);
        return Math.Max(0, Capacity - _open - ClosedCount - _external);
    }

    private void ExpireLocked(long now)
    {
        if (_closed is { } closed)
        {
            // A loop, not RemoveAll with a lambda: capturing `now` would allocate a closure on every
            // call (every Remaining and TryReserve), with or without closed sockets.
            var kept = 0;
            for (var i = 0; i < closed.Count; i++)
            {
                var socket = closed[i];
                if (!(socket.ExpiresByTime && socket.ChargedUntil <= now))
                {
                    closed[kept++] = socket;
                }
            }

            closed.RemoveRange(kept, closed.Count - kept);
            if (closed.Count == 0)
            {
                _closed = null;
            }
        }

        if (_external > 0 && _externalUntil <= now)
        {
            _external = 0;
            _externalTimeWait = 0;
        }
    }
}


/// <summary>What the ledger knows of a closed socket's hold on its tuple.</summary>
internal enum ClosedState
{
    /// <summary>Charged a fixed time from the close: the kernel is not asked.</summary>
    Timer,

    /// <summary>Not asked yet: charged until the kernel has answered, whatever the time.</summary>
    Unverified,

    /// <summary>The kernel said TIME-WAIT: charged until the time it had left runs out.</summary>
    TimeWait,

    /// <summary>The kernel said FIN-WAIT, CLOSING or LAST-ACK: charged, asked again later.</summary>
    Closing,
}

/// <summary>
/// A port one of our closes left held: the socket's local end (null when it could not be read),
/// whether our FIN went first, when it closed, until when it is charged, when to ask the kernel
/// next and how long the last wait between two looks was.
/// </summary>
internal readonly record struct ClosedSocket(IPEndPoint? Local, bool OursFirst, long ClosedAt, long ChargedUntil, long NextCheck, long LastWait, ClosedState State)
{
    /// <summary>Frees by itself at <see cref="ChargedUntil"/>; the others wait for the kernel's word.</summary>
    public bool ExpiresByTime => State is ClosedState.Timer or ClosedState.TimeWait;

    public bool NeedsCheckBy(long now) => NextCheck != 0 && NextCheck <= now && State is ClosedState.Unverified or ClosedState.Closing;

    /// <summary>Counted as TIME-WAIT in the snapshot (the rest as closing): the kernel said so, or the close of ours left it so.</summary>
    public bool IsTimeWait => State is ClosedState.Timer or ClosedState.TimeWait || (State == ClosedState.Unverified && OursFirst);

    public ClosedSocket InTimeWait(long until) => this with { ChargedUntil = until, NextCheck = 0, State = ClosedState.TimeWait };

    /// <summary>Still closing: asked again after twice the last wait, from the first wait up to <paramref name="longestTicks"/>.</summary>
    public ClosedSocket StillClosing(long now, long longestTicks)
    {
        var wait = Math.Min(longestTicks, LastWait * 2);
        return this with { NextCheck = now + wait, LastWait = wait, State = ClosedState.Closing };
    }

    /// <summary>The kernel cannot be asked: charged by the fixed time from the close if our FIN went first, else not at all.</summary>
    public ClosedSocket AsTimer(long chargeTicks) => this with { ChargedUntil = OursFirst ? ClosedAt + chargeTicks : ClosedAt, NextCheck = 0, State = ClosedState.Timer };
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
