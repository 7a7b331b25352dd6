using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using Polly;
using TuplePool.Budget;
using TuplePool.Internal;
using TuplePool.Platform;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// Everything the pool keeps for one destination (an <see cref="IPEndPoint"/> or a
/// <see cref="DnsEndPoint"/>): its idle store, its line of waiters, its connect pipeline, its
/// resolved addresses, its count of open connections, and the weak watch on leased ones.
/// </summary>
/// <remarks>
/// <para><b>The wake protocol.</b> Two rules make sure no caller sleeps while something it could
/// use exists:</para>
/// <list type="number">
/// <item>Whoever frees something — returns a connection, closes one, sees a TIME_WAIT charge
/// expire — publishes it first (pushes to the idle store, releases the ledger, decrements
/// <c>_open</c>) and looks at the line second. A returned connection goes straight to the first
/// waiter (<see cref="WaiterQueue.TryHandOff"/>, as the runtime's <c>HttpConnectionWaiter</c>);
/// anything else wakes the first waiter to try again (<see cref="WaiterQueue.WakeOne"/>).</item>
/// <item>A caller that found nothing joins the line first and looks again second: if a
/// connection is idle or there is room by then, it wakes the first waiter (often itself); if not,
/// it arms the expiry timer for the next time room may come by itself: a TIME_WAIT charge running
/// out, or a quarantined source with room coming back (<see cref="TupleLookup.NextExpiry"/>).</item>
/// </list>
/// <para>Joining the line and leaving the idle store are interlocked instructions, so in each
/// pair one side always sees the other. The races, step by step:</para>
/// <list type="bullet">
/// <item>Thread A fails to take a slot under MaxConnectionsPerDestination; thread B closes the
/// only connection and looks at the line: empty, nobody to wake. A joins the line and looks
/// again: the slot is free, so A wakes itself and takes it. (Once A looked "again" with
/// no addresses, saw no room, and slept until AcquireTimeout.)</item>
/// <item>A looks again just before B pushes its returned connection: A sees nothing and sleeps;
/// B, having pushed, sees A in line and wakes it; A takes the connection from the idle store.</item>
/// <item>B hands a connection to A just as A's timeout fires: both complete A's waiter with one
/// compare-and-swap. If B wins, A owns the connection and, since its caller gave up, gives it
/// back (to the next waiter or the store). If the timer wins, B's hand-off fails and the
/// connection goes to the next waiter. A wake is never owned by a waiter that gave up.</item>
/// <item>A, woken to try again, finds its room taken by newcomer C who came in between (C saw
/// nobody in line): C holds a connection, whose return or close wakes the line again. A goes back
/// to the front of the line and looks again as in rule 2.</item>
/// <item>A waits while the only source with room, S, is quarantined. S's quarantine ends with no
/// close and no return, and is only noticed by the next selection, so nothing would look at the
/// line: A's look again found no room and armed the expiry timer for S's quarantine end, which
/// wakes A to select S. Each destination with waiters arms its own timer, so one quarantine end
/// wakes at least one waiter of every destination that could use S; a woken waiter that gets
/// its connection passes the wake on while room is left. Should the quarantine end between A's
/// look and the arming, the timer is due at once.</item>
/// <item>One event frees room for several waiters (a TIME_WAIT expiry, several returns at
/// once): a waiter woken to try again that succeeds passes the wake on when room is left, or arms
/// the expiry timer for the next one.</item>
/// <item>The pool is disposed while A is between its look and joining the line: disposal has
/// already failed the line. A, in line, checks for disposal and leaves with
/// <see cref="ObjectDisposedException"/>; a connection handed to A after disposal is closed.</item>
/// </list>
/// <para><b>Eviction.</b> A destination with nothing open and nobody inside its slow path for
/// <see cref="PoolSettings.EvictAfter"/> is retired by the reaper: one compare-and-swap of
/// <c>_users</c> from 0 to <see cref="Retired"/>, so no caller can be inside it afterwards (a
/// caller that comes in later sees it retired and goes to its successor). The idle-hit path
/// needs no such guard: an idle connection is an open one, and a destination with one is
/// never retired.</para>
/// </remarks>
internal sealed partial class DestinationPool : IConnectionOwner, IRoomWatcher
{
    private const int Retired = -1;

    private readonly PoolContext _context;
    private readonly PoolSettings _settings;
    private readonly IDestinationOwner _owner;
    private readonly IdleStore _idle;
    private readonly WaiterQueue _waiters;
    private readonly OpenConnections _connections = new();
    private readonly ResiliencePipeline _pipeline;
    private readonly AddressResolver _resolver;
    private ITimer? _expiryTimer; // made by the first wait that needs it (ExpiryTimer); StoppedTimer once disposed
    private readonly DestinationMetrics _metrics;
    private int _open;
    private int _users;
    private long _lastActive;

    /// <summary>A destination for <paramref name="key"/>, already normalised and copied (<see cref="DestinationKeys"/>).</summary>
    public DestinationPool(EndPoint key, PoolContext context, IDestinationOwner owner, ResiliencePipeline pipeline, AddressResolver resolver)
    {
        Key = key;
        _context = context;
        _settings = context.Settings;
        _owner = owner;
        _pipeline = pipeline;
        _resolver = resolver;
        _waiters = new WaiterQueue(context.Waiting);
        _idle = new IdleStore(_settings.MaxIdle);
        _lastActive = _settings.Now();
        _metrics = context.Metrics.ForDestination(key, () => PendingAcquires);
    }

    /// <summary>The pool's own copy of the destination; never handed out.</summary>
    public EndPoint Key { get; }

    public int IdleCount => _idle.Count;

    /// <summary>Connections counted against MaxConnectionsPerDestination: connecting, leased or idle.</summary>
    public int OpenCount => Volatile.Read(ref _open);

    /// <summary>Callers asleep in this destination's line.</summary>
    public int PendingAcquires => _waiters.Count;

    /// <summary>The addresses this destination last resolved to (for a name, empty before its first lookup).</summary>
    public IReadOnlyList<IPEndPoint> Addresses => _resolver.Current;

    /// <summary>The pool's settings.</summary>
    public PoolSettings Settings => _settings;

    public bool IsRetired => Volatile.Read(ref _users) == Retired;

    /// <summary>This destination's instruments (server.address and server.port tags); its series stop when it goes.</summary>
    public DestinationMetrics Metrics => _metrics;

    /// <summary>True when <paramref name="destination"/> is this destination (by value: the caller's object may have changed since).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Is(EndPoint destination) => DestinationKeys.IsKeyOf(Key, destination);

    /// <summary>An acquire bounded by the pool's AcquireTimeout.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<SocketLease> AcquireAsync(CancellationToken cancellationToken) => AcquireAsync(_settings.AcquireTimeout, cancellationToken);

    /// <summary>An acquire for a caller, bounded by <paramref name="timeout"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ValueTask<SocketLease> AcquireAsync(TimeSpan timeout, CancellationToken cancellationToken) => AcquireAsync(timeout, AcquirePurpose.Caller, cancellationToken);

    /// <summary>
    /// The hot path: an idle hit completes synchronously and allocates nothing. Otherwise the slow
    /// path (<c>DestinationPool.Acquire.cs</c>), bounded by <paramref name="timeout"/>;
    /// <paramref name="purpose"/> says who would see its refusal.
    /// </summary>
    public ValueTask<SocketLease> AcquireAsync(TimeSpan timeout, AcquirePurpose purpose, CancellationToken cancellationToken)
    {
        MarkAcquired(); // for MinIdlePerDestination (DestinationPool.Warm.cs)
        if (_waiters.Count == 0)
        {
            // The common hit: this thread's stripe holds an idle resident; one compare-and-swap lends it.
            if (_idle.TryLendResident(out var token) is { } resident)
            {
                if (CanLend(resident))
                {
                    resident.LeasedSince = LeaseClock();
                    if (_metrics.UseTimeEnabled)
                    {
                        resident.LentAt = _settings.Now();
                    }

                    return new ValueTask<SocketLease>(new SocketLease(resident, token, isReused: true));
                }

                resident.TryEndLease(token); // lent to nobody: held again, to be closed
                Close(resident);
            }
            else if (_idle.TryPop(out var connection))
            {
                if (CanLend(connection!))
                {
                    connection!.LeasedSince = LeaseClock();
                    if (_metrics.UseTimeEnabled)
                    {
                        connection!.LentAt = _settings.Now();
                    }

                    return new ValueTask<SocketLease>(new SocketLease(connection!, connection!.BeginLease(), isReused: true));
                }

                Close(connection!);
            }
        }

        return AcquireSlowAsync(timeout, purpose, cancellationToken);
    }

    /// <summary>
    /// Called when a copy of a lease is disposed: ends the lease <paramref name="token"/> (nothing
    /// when another copy ended it first) and keeps, hands on or closes the connection.
    /// </summary>
    public void Return(PooledConnection connection, int token)
    {
        // The common return: a stripe's resident, fit to keep, nobody waiting, no use time to
        // record. One compare-and-swap ends the lease and makes it idle where it is. The checks
        // only read (the lease is not ours until the swap), except IdleSince, written while
        // this lease is still the current one.
        if (connection.LentAt == 0 && _waiters.Count == 0 && !_owner.IsDisposed && connection.IsLeasedWith(token) && connection.IsReusableAfter(token))
        {
            var keep = true;
            if (_settings.TracksIdleTime)
            {
                var now = _settings.CoarseNow;
                keep = !IsPastLifetime(connection, now);
                if (keep)
                {
                    connection.IdleSince = now;
                }
            }

            if (keep)
            {
                switch (_idle.TryReturnResident(connection, token))
                {
                    case ReturnOutcome.AlreadyEnded:
                        return;
                    case ReturnOutcome.Idle:
                        // Rule 1 of the wake protocol: published first (the swap is a full fence), then a look at the line.
                        if (_waiters.Count != 0)
                        {
                            _waiters.WakeOne();
                        }

                        if (_owner.IsDisposed)
                        {
                            DrainIdle(); // disposal may have drained the store just before
                        }

                        return;
                    case ReturnOutcome.Held:
                        GiveBack(connection); // taken out of its slot meanwhile: stored again
                        return;
                }
            }
        }

        if (connection.TryEndLease(token))
        {
            Return(connection);
        }
    }

    /// <summary>A held connection comes back (its lease ended the slow way, or a waiter could not use a hand-off): records its use time and gives it back.</summary>
    public void Return(PooledConnection connection)
    {
        var lentAt = connection.LentAt;
        if (lentAt == 0)
        {
            GiveBack(connection);
            return;
        }

        // Recorded after the connection is back: a listener that throws must not keep it.
        connection.LentAt = 0;
        GiveBack(connection);
        _metrics.RecordUseTime(_settings.TimeProvider.GetElapsedTime(lentAt));
    }

    private void GiveBack(PooledConnection connection)
    {
        if (_owner.IsDisposed || !connection.IsReusable)
        {
            Close(connection);
            return;
        }

        if (_settings.TracksIdleTime)
        {
            var now = _settings.CoarseNow;
            if (IsPastLifetime(connection, now))
            {
                Close(connection);
                return;
            }

            connection.IdleSince = now;
        }

        // Rule 1: straight to the first waiter, else into the store and then a look at the line.
        if (_waiters.Count != 0 && _waiters.TryHandOff(connection))
        {
            return;
        }

        if (_idle.Push(connection) is { } overflow)
        {
            Close(overflow); // full: the oldest goes
        }

        if (_waiters.Count != 0)
        {
            _waiters.WakeOne(); // a waiter joined between our look and the push
        }

        if (_owner.IsDisposed)
        {
            DrainIdle(); // disposal may have drained the store just before the push
        }
    }

    /// <summary>
    /// The reaper's sweep: closes idle connections that expired or whose peer closed or sent
    /// bytes, and frees the budget of leases the GC found abandoned.
    /// </summary>
    public void Reap(List<PooledConnection> scratch, List<ConnectionCharge> abandoned)
    {
        scratch.Clear();
        _idle.RemoveWhere(static (c, self) => self.IsExpiredOrDead(c), this, scratch);
        foreach (var connection in scratch)
        {
            Close(connection);
        }

        // Let go of leased residents, so a lease never disposed is held by nothing of the pool's
        // and a later collection can find it; one whose lease ended just then is stored again.
        scratch.Clear();
        _idle.ReleaseLeasedResidents(scratch);
        foreach (var connection in scratch)
        {
            GiveBack(connection);
        }

        scratch.Clear();
        abandoned.Clear();
        _connections.TakeCollected(abandoned);
        foreach (var charge in abandoned)
        {
            // The socket was closed by its finalizer, or will be; how is unknown: charge the safe side.
            if (charge.Release(ReleaseKind.TimeWait, except: this))
            {
                OnClosed();
            }
        }

        abandoned.Clear();
    }

    public void CountIdle(Dictionary<TupleLedger, int> counts)
        => _idle.ForEach(static (c, d) => d[c.Ledger] = d.GetValueOrDefault(c.Ledger) + 1, counts);

    /// <inheritdoc />
    int IRoomWatcher.Waiting => _waiters.Count;

    /// <summary>Room may have come on an address this destination waits on (another destination closed a connection there, a NAT grant came): wake one waiter.</summary>
    void IRoomWatcher.RoomMayBeFree()
    {
        if (_waiters.Count != 0)
        {
            _waiters.WakeOne();
        }
    }

    /// <summary>
    /// Retires the destination when nothing is open, nobody is inside its slow path and nothing
    /// happened for <see cref="PoolSettings.EvictAfter"/>; true when it did (the caller removes it).
    /// </summary>
    public bool TryRetire(long now)
    {
        if (Volatile.Read(ref _open) != 0 || Volatile.Read(ref _users) != 0 || now - Volatile.Read(ref _lastActive) < _settings.EvictAfterTicks)
        {
            return false;
        }

        if (Interlocked.CompareExchange(ref _users, Retired, 0) != 0)
        {
            return false;
        }

        // Opening takes a slot only inside the slow path, which is closed now: _open cannot grow.
        Debug.Assert(Volatile.Read(ref _open) == 0 && _waiters.Count == 0, "A retired destination still has connections or waiters.");
        _context.Tuples.Unwatch(this, _resolver.Current);
        DisposeExpiryTimer();
        _metrics.Dispose(); // its series stop
        return true;
    }

    public void Dispose()
    {
        _context.Tuples.Unwatch(this, _resolver.Current);
        DisposeExpiryTimer();
        _metrics.Dispose();
        _waiters.FailAll();
        DrainIdle();
    }

    private void DrainIdle()
    {
        while (_idle.TryPop(out var connection))
        {
            Close(connection!);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool CanLend(PooledConnection connection)
        => !(_settings.TracksIdleTime && IsExpired(connection, _settings.CoarseNow))
            && (!_settings.ValidateOnAcquire || !IsDeadOrDirty(connection));

    /// <summary>
    /// Past IdleTimeout or ConnectionLifetime. Well inside both limits the coarse clock answers;
    /// close to one it may be behind (it ticks at most once a second, later when the thread pool
    /// is starved), so the exact clock decides.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool IsExpired(PooledConnection connection, long coarseNow)
    {
        var margin = _settings.ClockResolutionTicks;
        if (coarseNow - connection.IdleSince <= connection.IdleTimeoutTicks - margin
            && (_settings.LifetimeTicks == long.MaxValue || coarseNow - connection.CreatedAt <= _settings.LifetimeTicks - margin))
        {
            return false;
        }

        return IsPastLimits(connection, _settings.Now());
    }

    private bool IsPastLimits(PooledConnection connection, long now)
        => now - connection.IdleSince > connection.IdleTimeoutTicks || IsPastLifetime(connection, now);

    /// <summary>
    /// One poll(): readable on an idle socket means unread bytes (another caller's data), FIN or
    /// RST; then one ioctl() for bytes of a cancelled write still unsent (ReadinessProbe.IsDirty).
    /// Any of them makes the socket unfit to lend, and so does a socket the caller disposed
    /// behind the lease's back.
    /// </summary>
    private static bool IsDeadOrDirty(PooledConnection connection)
    {
        try
        {
            return ReadinessProbe.IsDirty(connection.Socket);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            return true;
        }
    }

    private bool IsPastLifetime(PooledConnection connection, long now)
        => _settings.LifetimeTicks != long.MaxValue && now - connection.CreatedAt > _settings.LifetimeTicks;

    /// <summary>The reaper's test: the exact clock, and the poll whatever ValidateOnAcquire says.</summary>
    private bool IsExpiredOrDead(PooledConnection connection)
        => (_settings.TracksIdleTime && IsPastLimits(connection, _settings.Now())) || IsDeadOrDirty(connection);

    private void Close(PooledConnection connection)
    {
        var local = _context.Tuples.Budget.FollowsKernel ? connection.TryGetLocalEndPoint() : null; // read before the close: the kernel is asked about this 4-tuple
        _idle.Forget(connection);
        var kind = ConnectionCloser.Close(connection.Socket, _settings.CloseMode);
        _connections.Remove(connection);
        if (connection.Charge.Release(kind, except: this, natMappingGone: IsForgottenByTheNat(connection), local: local))
        {
            OnClosed();
        }
    }

    /// <summary>Idle past the NAT's idle timeout: the NAT dropped its mapping already, so its port frees without a hold.</summary>
    private bool IsForgottenByTheNat(PooledConnection connection)
        => connection.Charge.Nat is not null
            && _settings.NatIdleTimeoutTicks != long.MaxValue
            && connection.LentAt == 0
            && connection.IdleSince != 0
            && _settings.Now() - connection.IdleSince > _settings.NatIdleTimeoutTicks;

    /// <summary>
    /// A connection is gone and its charge released (which woke the other destinations waiting on
    /// its address): a slot and maybe a port are free, so this destination's own line looks too.
    /// </summary>
    private void OnClosed()
    {
        var open = Interlocked.Decrement(ref _open);
        Debug.Assert(open >= 0, "More connections closed than were opened.");
        if (open == 0)
        {
            _owner.LastClosed(this);
        }

        Volatile.Write(ref _lastActive, _settings.Now());
        if (_waiters.Count != 0)
        {
            _waiters.WakeOne();
        }
    }

    private bool TryEnter()
    {
        var users = Volatile.Read(ref _users);
        while (users != Retired)
        {
            var seen = Interlocked.CompareExchange(ref _users, users + 1, users);
            if (seen == users)
            {
                return true;
            }

            users = seen;
        }

        return false;
    }

    private void Exit()
    {
        Volatile.Write(ref _lastActive, _settings.Now());
        var users = Interlocked.Decrement(ref _users);
        Debug.Assert(users >= 0, "More callers left the slow path than entered it.");
    }

    private bool TryTakeOpenSlot()
    {
        if (_settings.MaxConnections == int.MaxValue)
        {
            if (Interlocked.Increment(ref _open) == 1)
            {
                _owner.FirstOpened(this);
            }

            return true;
        }

        var open = Volatile.Read(ref _open);
        while (open < _settings.MaxConnections)
        {
            var seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                if (open == 0)
                {
                    _owner.FirstOpened(this);
                }

                return true;
            }

            open = seen;
        }

        return false;
    }

    private void ReleaseOpenSlot()
    {
        var open = Interlocked.Decrement(ref _open);
        Debug.Assert(open >= 0, "An open slot was released twice.");
        if (open == 0)
        {
            _owner.LastClosed(this);
        }
    }

    /// <summary>
    /// A waiter woken to try again got its connection. One event (a TIME_WAIT expiry, several
    /// returns) can make room for more than one, so when room is left the next waiter is woken too;
    /// otherwise the expiry timer is armed for the next one.
    /// </summary>
    private void PassWakeOn(IReadOnlyList<IPEndPoint> addresses)
    {
        if (_waiters.Count == 0)
        {
            return;
        }

        if (_idle.Count > 0 || HasRoom(addresses))
        {
            _waiters.WakeOne();
        }
        else
        {
            ArmExpiryTimer(addresses);
        }
    }

    private bool HasRoom(IReadOnlyList<IPEndPoint> addresses)
        => Volatile.Read(ref _open) < _settings.MaxConnections && _context.Tuples.HasRoom(addresses);

    private void ArmExpiryTimer(IReadOnlyList<IPEndPoint> addresses)
    {
        if (_context.Tuples.NextExpiry(addresses) is not { } at)
        {
            return;
        }

        var time = _settings.TimeProvider;
        var due = time.GetElapsedTime(time.GetTimestamp(), at);
        try
        {
            ExpiryTimer().Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed (or retired, which no waiter can see): nothing left to wake.
        }
    }

    /// <summary>
    /// The timer that wakes a waiter when a hold expires, made at the first wait that needs one:
    /// most destinations never wait, and a crawl knows many of them (DestinationMemoryTests).
    /// </summary>
    private ITimer ExpiryTimer()
    {
        if (Volatile.Read(ref _expiryTimer) is { } timer)
        {
            return timer;
        }

        var created = PoolTimers.Create(_settings.TimeProvider, static state => ((DestinationPool)state!)._waiters.WakeOne(), this);
        if (Interlocked.CompareExchange(ref _expiryTimer, created, null) is { } winner)
        {
            created.Dispose(); // another wait made it first, or the destination was disposed
            return winner;
        }

        return created;
    }

    private void DisposeExpiryTimer() => Interlocked.Exchange(ref _expiryTimer, StoppedTimer.Instance)?.Dispose();

    /// <summary>Stands for the expiry timer of a disposed destination: arming it does nothing.</summary>
    private sealed class StoppedTimer : ITimer
    {
        public static readonly StoppedTimer Instance = new();

        public bool Change(TimeSpan dueTime, TimeSpan period) => false;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
