using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// The pool's one timer. Each tick refreshes the coarse clock lending and returning stamp with
/// (<see cref="PoolSettings.CoarseNow"/>); every <see cref="PoolSettings.ReaperPeriod"/> it sweeps:
/// closes idle connections that expired or died, frees the budget of leases the GC found
/// abandoned, tops up destinations in use to MinIdlePerDestination, and evicts destinations that stood empty for <see cref="PoolSettings.EvictAfter"/> (EmptyDestinationTimeout);
/// every tick it also expires the budget's due holds and asks the kernel about closed sockets due a look (<see cref="TupleBudget.ExpireDue"/>). It runs while the pool has any destination or ledger and stops
/// when it has none.
/// </summary>
/// <remarks>
/// Stop against start: the sweep stops the timer, clears <c>_running</c> with an interlocked
/// exchange (a full fence), then looks at the registry and budget again; a new destination is
/// added to the registry (interlocked) before <see cref="EnsureRunning"/> reads the flag. So
/// either the starter sees the flag down and starts the timer, or the stopper sees the new
/// destination and restarts it. With a plain store the look could be reordered before the store
/// and both would miss. The timer is stopped before the flag falls, so a start in
/// between is never undone.
/// </remarks>
internal sealed class IdleReaper : IDisposable
{
    private readonly DestinationRegistry _destinations;
    private readonly TupleBudget _budget;
    private readonly PoolSettings _settings;
    private readonly ITimer _timer;
    private readonly List<PooledConnection> _scratch = [];
    private readonly List<ConnectionCharge> _abandoned = [];
    private int _running;
    private int _sweeping;
    private int _ticks;
    private volatile bool _disposed;

    public IdleReaper(DestinationRegistry destinations, TupleBudget budget, PoolSettings settings)
    {
        _destinations = destinations;
        _budget = budget;
        _settings = settings;

        // A static callback with a weak reference: the timer must not keep an abandoned pool alive.
        var state = new TimerState(new WeakReference<IdleReaper>(this));
        _timer = PoolTimers.Create(settings.TimeProvider, static s => ((TimerState)s!).Tick(), state);
        state.Timer = _timer;
    }

    public bool IsRunning => Volatile.Read(ref _running) != 0;

    /// <summary>For tests: runs between the flag falling and the second look, where a start could slip in.</summary>
    internal Action? BeforeSecondLook { get; set; }

    public void EnsureRunning()
    {
        if (Volatile.Read(ref _running) == 0 && Interlocked.CompareExchange(ref _running, 1, 0) == 0)
        {
            try
            {
                _settings.RefreshClock();
                _timer.Change(_settings.ClockResolution, _settings.ClockResolution);
            }
            catch (ObjectDisposedException)
            {
                // Disposed concurrently: nothing left to reap.
            }
        }
    }

    /// <summary>One sweep now (the timer calls it every <see cref="PoolSettings.SweepEveryTicks"/> ticks).</summary>
    internal void Sweep()
    {
        if (_disposed || Interlocked.Exchange(ref _sweeping, 1) != 0)
        {
            return; // a sweep is still running (a slow tick): skip this one
        }

        try
        {
            // Idle connections and abandoned leases exist only where a connection is open: the
            // sweep's cost follows the connections, not the destinations known. Only a pool that
            // keeps MinIdlePerDestination warm looks at every destination (one may have none open).
            foreach (var destination in _destinations.WithConnections)
            {
                destination.Reap(_scratch, _abandoned);
            }

            var minIdle = _settings.Options.MinIdlePerDestination;
            if (minIdle > 0)
            {
                var now = _settings.Now();
                foreach (var destination in _destinations.All)
                {
                    destination.TopUp(minIdle, now); // in the background (DestinationPool.Warm.cs)
                }
            }

            _destinations.EvictEmpty(_settings.Now());

            if (_destinations.Count == 0 && _budget.IsEmpty)
            {
                Stop();
            }
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _timer.Dispose();
    }

    private void OnTick()
    {
        if (_disposed)
        {
            return;
        }

        _settings.RefreshClock();

        // Every tick (at most a second apart): the budget's due entries only — holds that ended,
        // closed sockets to ask the kernel about — so its cost is what is due, not what is held.
        _budget.ExpireDue(_settings.Now());
        if (Interlocked.Increment(ref _ticks) % _settings.SweepEveryTicks == 0)
        {
            Sweep();
        }
    }

    private void Stop()
    {
        try
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            return;
        }

        Interlocked.Exchange(ref _running, 0);
        BeforeSecondLook?.Invoke();
        if (_destinations.Count != 0 || !_budget.IsEmpty)
        {
            EnsureRunning();
        }
    }

    private sealed class TimerState(WeakReference<IdleReaper> reaper)
    {
        public ITimer? Timer { get; set; }

        public void Tick()
        {
            if (reaper.TryGetTarget(out var target))
            {
                target.OnTick();
            }
            else
            {
                Timer?.Dispose(); // the pool was dropped without Dispose
            }
        }
    }
}
