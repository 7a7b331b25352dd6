using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Polly;
using TuplePool.Budget;
using TuplePool.Platform;

namespace TuplePool.Pooling;

/// <summary>
/// Everything the pool keeps for one destination (an <see cref="IPEndPoint"/> or a
/// <see cref="DnsEndPoint"/>): its idle store, its line of waiters, its connect pipeline, its
/// resolved addresses and its count of open connections.
/// </summary>
internal sealed class DestinationPool
{
    private readonly SocketPool _pool;
    private readonly PoolSettings _settings;
    private readonly IdleStore _idle;
    private readonly WaiterQueue _waiters = new();
    private readonly ResiliencePipeline _pipeline;
    private readonly AddressResolver _resolver;
    private readonly ITimer _expiryTimer;
    private int _open;

    public DestinationPool(SocketPool pool, EndPoint destination, ResiliencePipeline pipeline, AddressResolver resolver)
    {
        _pool = pool;
        _settings = pool.Settings;
        Destination = destination;
        _pipeline = pipeline;
        _resolver = resolver;
        _idle = new IdleStore(_settings.MaxIdle);
        _expiryTimer = _settings.TimeProvider.CreateTimer(static state => ((DestinationPool)state!)._waiters.WakeOne(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public EndPoint Destination { get; }

    public int IdleCount => _idle.Count;

    /// <summary>The hot path: an idle hit completes synchronously and allocates nothing.</summary>
    public ValueTask<SocketLease> AcquireAsync(CancellationToken cancellationToken)
    {
        if (_waiters.Count == 0 && _idle.TryPop(out var connection))
        {
            if (CanLend(connection!))
            {
                return new ValueTask<SocketLease>(new SocketLease(connection!, connection!.BeginLease(), isReused: true));
            }

            Close(connection!);
        }

        return AcquireSlowAsync(cancellationToken);
    }

    /// <summary>Called when a lease ends (the token has already been retired).</summary>
    public void Return(PooledConnection connection)
    {
        if (_pool.IsDisposed || connection.Invalidated || connection.StreamDisposed)
        {
            Close(connection);
            return;
        }

        if (_settings.TracksIdleTime)
        {
            // Start the timer first when it is stopped: it refreshes the coarse clock we stamp with.
            _pool.EnsureReaper();
            var now = _settings.CoarseNow;
            if (IsPastLifetime(connection, now))
            {
                Close(connection);
                return;
            }

            connection.IdleSince = now;
        }

        if (_idle.Push(connection) is { } overflow)
        {
            // Full: the oldest idle connection (or this one) goes.
            Close(overflow);
            return;
        }

        if (_waiters.Count != 0)
        {
            _waiters.WakeOne();
        }

        if (_pool.IsDisposed)
        {
            // DisposeAsync may have drained the store just before the push.
            DrainIdle();
            return;
        }

        _pool.EnsureReaper();
    }

    /// <summary>Closes idle connections that expired or whose peer closed or sent bytes.</summary>
    public void Reap(List<PooledConnection> scratch)
    {
        scratch.Clear();
        _idle.RemoveWhere(static (c, self) => self.IsExpiredOrDead(c), this, scratch);
        foreach (var connection in scratch)
        {
            Close(connection);
        }

        scratch.Clear();
    }

    public void CountIdle(Dictionary<TupleLedger, int> counts)
        => _idle.ForEach(static (c, d) => d[c.Ledger] = d.GetValueOrDefault(c.Ledger) + 1, counts);

    /// <summary>Wakes one waiter when this destination uses <paramref name="freed"/>'s address.</summary>
    public void OnRoomFreed(IPEndPoint freed)
    {
        if (_waiters.Count != 0 && _resolver.MayUse(freed))
        {
            _waiters.WakeOne();
        }
    }

    /// <summary>One of this destination's own connections closed: a slot under MaxConnectionsPerDestination is free whatever its address.</summary>
    public void OnOwnConnectionClosed()
    {
        if (_waiters.Count != 0)
        {
            _waiters.WakeOne();
        }
    }

    public void Dispose(Exception disposedError)
    {
        _expiryTimer.Dispose();
        _waiters.FailAll(disposedError);
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
        if (coarseNow - connection.IdleSince <= _settings.IdleTimeoutTicks - margin
            && (_settings.LifetimeTicks == long.MaxValue || coarseNow - connection.CreatedAt <= _settings.LifetimeTicks - margin))
        {
            return false;
        }

        return IsPastLimits(connection, _settings.Now());
    }

    private bool IsPastLimits(PooledConnection connection, long now)
        => now - connection.IdleSince > _settings.IdleTimeoutTicks || IsPastLifetime(connection, now);

    /// <summary>
    /// One poll(): readable on an idle socket means unread bytes (another caller's data), FIN or
    /// RST. Any of them makes the socket unfit to lend, and so does a socket the caller disposed
    /// behind the lease's back.
    /// </summary>
    private static bool IsDeadOrDirty(PooledConnection connection)
    {
        try
        {
            return ReadinessProbe.IsReadable(connection.Socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
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
        var kind = ConnectionCloser.Close(connection.Socket, _settings.CloseMode);
        connection.Ledger.Release(kind);
        Interlocked.Decrement(ref _open);
        _pool.OnConnectionClosed(this, connection.Ledger);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private async ValueTask<SocketLease> AcquireSlowAsync(CancellationToken cancellationToken)
    {
        var started = _settings.TimeProvider.GetTimestamp();
        long waitStarted = 0;

        // True while this caller holds a wake: it was woken and has not yet taken a connection,
        // joined the line again or passed the wake on. The finally gives the wake back.
        var woken = false;
        IReadOnlyList<IPEndPoint>? addresses = null;
        try
        {
            while (true)
            {
                _pool.ThrowIfDisposed();
                if (cancellationToken.IsCancellationRequested)
                {
                    if (woken)
                    {
                        _waiters.WakeOne(); // the room that woke us is the next waiter's
                    }

                    cancellationToken.ThrowIfCancellationRequested();
                }

                // Newcomers queue behind waiters; a waiter just woken has its turn now.
                if (woken || _waiters.Count == 0)
                {
                    while (_idle.TryPop(out var idle))
                    {
                        if (CanLend(idle!))
                        {
                            RecordWait(waitStarted);
                            if (woken)
                            {
                                PassWakeOn(addresses);
                            }

                            return new SocketLease(idle!, idle!.BeginLease(), isReused: true);
                        }

                        Close(idle!);
                    }

                    if (TryTakeOpenSlot())
                    {
                        PooledConnection? opened;
                        try
                        {
                            addresses = await _resolver.ResolveAsync(cancellationToken).ConfigureAwait(false);
                            if (!_pool.HasSourcesFor(addresses))
                            {
                                // Waiting cannot help: no configured source has the destination's family.
                                throw _pool.Exhausted(Destination, addresses);
                            }

                            opened = await OpenAsync(addresses, cancellationToken).ConfigureAwait(false);
                        }
                        catch
                        {
                            // The slot was never used: let a waiter held back by MaxConnectionsPerDestination try.
                            ReleaseOpenSlot();
                            _waiters.WakeOne();
                            throw;
                        }

                        if (opened is not null)
                        {
                            RecordWait(waitStarted);
                            if (woken)
                            {
                                PassWakeOn(addresses);
                            }

                            return new SocketLease(opened, opened.BeginLease(), isReused: false);
                        }

                        // No room anywhere. No wake here: waking the next waiter would only have it
                        // fail the same way and wake us back, round and round.
                        ReleaseOpenSlot();
                    }
                }

                // No idle connection and no room: wait for a return, a close, or a TIME_WAIT expiry.
                var remaining = _settings.AcquireTimeout == Timeout.InfiniteTimeSpan
                    ? Timeout.InfiniteTimeSpan
                    : _settings.AcquireTimeout - _settings.TimeProvider.GetElapsedTime(started);
                if (remaining != Timeout.InfiniteTimeSpan && remaining <= TimeSpan.Zero)
                {
                    throw _pool.Exhausted(Destination, addresses);
                }

                if (waitStarted == 0)
                {
                    waitStarted = _settings.TimeProvider.GetTimestamp();
                }

                var waiter = _waiters.Enqueue(atFront: woken);
                if (woken)
                {
                    woken = false;
                    _waiters.EndWake();
                }

                if (_pool.IsDisposed)
                {
                    // DisposeAsync may have failed the line just before we joined it.
                    _waiters.TryRemove(waiter);
                    _pool.ThrowIfDisposed();
                }

                // Room may have appeared between the look above and joining the line; its wake found
                // nobody. Look once more, now that any later wake will find us. (A tuple the kernel
                // just refused is charged as full, so this cannot spin on it.)
                if (_idle.Count > 0 || HasRoom(addresses))
                {
                    _waiters.WakeOne();
                }
                else
                {
                    ArmExpiryTimer(addresses);
                }

                try
                {
                    await waiter.Completion.Task.WaitAsync(remaining, _settings.TimeProvider, cancellationToken).ConfigureAwait(false);
                    woken = true;
                }
                catch (Exception e) when (e is TimeoutException or OperationCanceledException)
                {
                    if (!_waiters.TryRemove(waiter))
                    {
                        // A wake picked us just as we gave up: hand it to the next in line.
                        woken = true;
                        _waiters.WakeOne();
                    }

                    if (e is TimeoutException)
                    {
                        throw _pool.Exhausted(Destination, addresses);
                    }

                    throw;
                }
            }
        }
        finally
        {
            if (woken)
            {
                _waiters.EndWake();
            }
        }
    }

    private async ValueTask<PooledConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, CancellationToken cancellationToken)
    {
        var opened = await _pool.Opener.OpenAsync(addresses, _pipeline, cancellationToken).ConfigureAwait(false);
        if (opened is not { } o)
        {
            return null;
        }

        if (_pool.IsDisposed)
        {
            o.Ledger.Release(ConnectionCloser.Close(o.Socket, CloseMode.Abortive));
            _pool.ThrowIfDisposed();
        }

        try
        {
            return new PooledConnection(o.Socket, o.Ledger, this, _settings.TimeProvider.GetTimestamp());
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The peer reset the connection before we read its endpoints (getpeername fails).
            o.Ledger.Release(ConnectionCloser.Close(o.Socket, CloseMode.Abortive));
            throw;
        }
    }

    private bool TryTakeOpenSlot()
    {
        if (_settings.MaxConnections == int.MaxValue)
        {
            Interlocked.Increment(ref _open);
            return true;
        }

        var open = Volatile.Read(ref _open);
        while (open < _settings.MaxConnections)
        {
            var seen = Interlocked.CompareExchange(ref _open, open + 1, open);
            if (seen == open)
            {
                return true;
            }

            open = seen;
        }

        return false;
    }

    private void ReleaseOpenSlot() => Interlocked.Decrement(ref _open);

    /// <summary>
    /// A woken waiter got its connection. One event (a TIME_WAIT expiry, several returns) can make
    /// room for more than one, so when room is left the next waiter is woken too.
    /// </summary>
    private void PassWakeOn(IReadOnlyList<IPEndPoint>? addresses)
    {
        if (_waiters.Queued == 0)
        {
            return;
        }

        addresses ??= _resolver.Current;
        if (_idle.Count > 0 || HasRoom(addresses))
        {
            _waiters.WakeOne();
        }
        else
        {
            // The expiry that woke us is spent; the next one is theirs.
            ArmExpiryTimer(addresses);
        }
    }

    private bool HasRoom(IReadOnlyList<IPEndPoint>? addresses)
    {
        if (Volatile.Read(ref _open) >= _settings.MaxConnections || addresses is null)
        {
            return false;
        }

        foreach (var ledger in _pool.LedgersFor(addresses))
        {
            if (ledger.Remaining > 0)
            {
                return true;
            }
        }

        return false;
    }

    private void ArmExpiryTimer(IReadOnlyList<IPEndPoint>? addresses)
    {
        if (addresses is null)
        {
            return;
        }

        long? next = null;
        foreach (var ledger in _pool.LedgersFor(addresses))
        {
            if (ledger.NextExpiryTimestamp is { } expiry && (next is null || expiry < next))
            {
                next = expiry;
            }
        }

        if (next is { } at)
        {
            var due = _settings.TimeProvider.GetElapsedTime(_settings.TimeProvider.GetTimestamp(), at);
            _expiryTimer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
        }
    }

    private void RecordWait(long waitStarted)
    {
        if (waitStarted != 0)
        {
            _pool.Metrics.RecordWait(_settings.TimeProvider.GetElapsedTime(waitStarted));
        }
    }
}
