using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace TuplePool.Pooling;

/// <summary>
/// Warming: opening connections into the idle store ahead of demand, on request
/// (<see cref="WarmAsync"/>) and, for <see cref="TuplePoolOptions.MinIdlePerDestination"/>, from the
/// reaper (<see cref="TopUp"/>).
/// </summary>
/// <remarks>
/// A warmed connection takes the same road as a new one an acquire opens: an open slot under
/// MaxConnectionsPerDestination, then the opener, which reserves a port in a tuple's ledger or
/// returns null when no tuple has room. So warming can never push a tuple over its budget; "no
/// room" simply ends it. The connection then goes where a returned one goes
/// (<see cref="GiveBack"/>): straight to the first waiter if there is one, else into the idle store
/// followed by a look at the line, so a warmed connection serves a waiter exactly as a return does.
/// Warming runs inside the slow path (<c>TryEnter</c>), so the reaper cannot retire the destination
/// while a warm is opening into it.
/// </remarks>
internal sealed partial class DestinationPool
{
    /// <summary>The most connections one top-up opens per destination per sweep: the reaper's background work stays bounded.</summary>
    internal const int MaxTopUpOpensPerSweep = 2;

    private volatile bool _acquiredSinceSweep;
    private long _lastAcquireSeen;
    private int _toppingUp;
    private Task _lastTopUp = Task.CompletedTask;

    /// <summary>For tests: the last top-up the reaper started (completed when none ran).</summary>
    internal Task LastTopUp => Volatile.Read(ref _lastTopUp);

    /// <summary>
    /// Marks the destination as in use (an acquire came in). Read-mostly: it writes only when the
    /// flag is down, once per sweep, so the idle-hit path does not bounce a cache line between cores.
    /// </summary>
    private void MarkAcquired()
    {
        if (!_acquiredSinceSweep)
        {
            _acquiredSinceSweep = true;
        }
    }

    /// <summary>
    /// Opens connections until <paramref name="targetIdle"/> are idle (capped at MaxIdlePerDestination),
    /// opening at most <paramref name="maxOpens"/>; returns how many it opened. Null when the
    /// destination is retired (the caller warms its successor).
    /// </summary>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    public async ValueTask<int?> WarmAsync(int targetIdle, int maxOpens, CancellationToken cancellationToken)
    {
        if (!TryEnter())
        {
            return null;
        }

        try
        {
            var target = Math.Min(targetIdle, _settings.MaxIdle);
            var opened = 0;
            while (opened < maxOpens && _idle.Count < target)
            {
                if (_owner.IsDisposed)
                {
                    ThrowHelper.ThrowPoolDisposed();
                }

                cancellationToken.ThrowIfCancellationRequested();
                if (!TryTakeOpenSlot())
                {
                    break; // MaxConnectionsPerDestination reached
                }

                PooledConnection? connection;
                try
                {
                    var addresses = await _resolver.ResolveAsync(cancellationToken).ConfigureAwait(false);
                    ThrowIfNoSourceFor(addresses);
                    connection = await OpenAsync(addresses, deadline: long.MaxValue, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    ReleaseOpenSlot();
                    _waiters.WakeOne(); // as an acquire's failed open: the slot is free again
                    throw;
                }

                if (connection is null)
                {
                    ReleaseOpenSlot(); // no tuple has room: warming stops, it never waits
                    break;
                }

                opened++;
                GiveBack(connection); // a waiter first, else the idle store (closed if disposed meanwhile)
            }

            return opened;
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// The reaper's top-up for <see cref="TuplePoolOptions.MinIdlePerDestination"/>: when this
    /// destination was acquired from within <see cref="PoolSettings.InUseWindow"/> and has fewer
    /// idle connections than the minimum, starts one background warm of at most
    /// <see cref="MaxTopUpOpensPerSweep"/> connections (never two at once). Errors are logged.
    /// A destination nobody acquired from for that long is left to drain and be evicted.
    /// </summary>
    public void TopUp(int minIdle, long now)
    {
        if (_acquiredSinceSweep)
        {
            _acquiredSinceSweep = false;
            Volatile.Write(ref _lastAcquireSeen, now);
        }

        var lastAcquire = Volatile.Read(ref _lastAcquireSeen);
        if (minIdle <= 0 || lastAcquire == 0 || now - lastAcquire >= _settings.InUseWindowTicks
            || IsRetired || _owner.IsDisposed || _idle.Count >= minIdle
            || Interlocked.CompareExchange(ref _toppingUp, 1, 0) != 0)
        {
            return;
        }

        Volatile.Write(ref _lastTopUp, TopUpAsync(minIdle));
    }

    private async Task TopUpAsync(int minIdle)
    {
        try
        {
            await Task.Yield(); // off the reaper's timer thread: the sweep does not wait for connects
            await WarmAsync(minIdle, MaxTopUpOpensPerSweep, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
            // The pool went away mid top-up: nothing to keep warm.
        }
        catch (Exception e)
        {
            TopUpFailed(_context.Logger, Key, e.Message, e);
        }
        finally
        {
            var was = Interlocked.Exchange(ref _toppingUp, 0);
            Debug.Assert(was == 1, "A top-up ended that had not started.");
        }
    }

    [LoggerMessage(9, LogLevel.Warning, "Keeping {Destination} warm (MinIdlePerDestination) failed: {Error}. The reaper tries again on its next sweep.")]
    private static partial void TopUpFailed(ILogger logger, EndPoint destination, string error, Exception exception);
}
