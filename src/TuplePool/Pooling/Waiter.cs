using System.Diagnostics;
using System.Threading.Tasks.Sources;
using Microsoft.Extensions.ObjectPool;

namespace TuplePool.Pooling;

/// <summary>Why a <see cref="Waiter"/> woke up.</summary>
internal enum WakeReason
{
    /// <summary>A returned connection was handed to it (<see cref="Waiter.TakeConnection"/>).</summary>
    Connection,

    /// <summary>Room may have appeared (a close, a TIME_WAIT expiry, a returned socket already taken): try again.</summary>
    Room,

    /// <summary>The acquire's deadline passed.</summary>
    TimedOut,

    /// <summary>The caller's token was cancelled.</summary>
    Canceled,

    /// <summary>The pool was disposed.</summary>
    Disposed,
}

/// <summary>
/// One acquirer's place in a <see cref="WaiterQueue"/>: a reusable awaitable (no Task, no
/// TaskCompletionSource) with its own timeout timer, completed exactly once per use by whoever
/// wins it — a wake from the queue, the timer, the caller's token, or disposal.
/// </summary>
/// <remarks>
/// Waiters are pooled (<see cref="WaiterPolicy"/>), so a stale party must never complete a
/// later use. <c>_state</c> is <c>(use &lt;&lt; 1) | completed</c>: every party completes with
/// one compare-and-swap from the "waiting" value of the use it saw, so exactly one wins, and a
/// party holding the value of an earlier use always loses. The queue records that value when
/// the waiter joins (<see cref="Ticket"/>); the cancellation callback is unregistered (which waits
/// for a running callback) before the waiter is reused; the timer callback re-reads the state
/// and acts only once the current use's own deadline has passed.
/// </remarks>
internal sealed class Waiter : IValueTaskSource<WakeReason>, IDisposable
{
    private readonly TimeProvider _timeProvider;
    private ManualResetValueTaskSourceCore<WakeReason> _core = new() { RunContinuationsAsynchronously = true };
    private long _state = 1; // use 0, completed: not waiting until Prepare
    private long _deadline = long.MaxValue;
    private ITimer? _timer;
    private bool _timerArmed;
    private CancellationTokenRegistration _cancellation;
    private PooledConnection? _connection;

    public Waiter(TimeProvider timeProvider) => _timeProvider = timeProvider;

    // Links of the queue this waiter is in; read and written only under the queue's lock.
    internal Waiter? Previous { get; set; }

    internal Waiter? Next { get; set; }

    internal bool IsQueued { get; set; }

    /// <summary>The "waiting" state value of the use that joined the queue; a wake completes only that use.</summary>
    internal long Ticket { get; set; }

    internal bool IsWaiting => (Volatile.Read(ref _state) & 1) == 0;

    /// <summary>Starts a use: returns its ticket. Nothing can complete it before <see cref="Arm"/> but a queue wake.</summary>
    public long Prepare()
    {
        var state = Volatile.Read(ref _state);
        Debug.Assert((state & 1) == 1, "A waiter was prepared while still waiting.");
        var ticket = ((state >> 1) + 1) << 1;
        Volatile.Write(ref _state, ticket);
        return ticket;
    }

    /// <summary>Arms the deadline (a <see cref="TimeProvider"/> timestamp; <see cref="long.MaxValue"/> for none) and the caller's token.</summary>
    public void Arm(long deadline, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _deadline, deadline);
        if (deadline != long.MaxValue)
        {
            _timer ??= _timeProvider.CreateTimer(static state => ((Waiter)state!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _timerArmed = true;
            var due = DueIn(deadline);
            if (due == TimeSpan.Zero)
            {
                OnDeadline();
            }
            else
            {
                _timer.Change(due, Timeout.InfiniteTimeSpan);
            }
        }

        if (cancellationToken.CanBeCanceled)
        {
            // Runs inline when the token is already cancelled: the waiter then completes at once.
            _cancellation = cancellationToken.UnsafeRegister(static state => ((Waiter)state!).OnCanceled(), this);
        }
    }

    /// <summary>Completes the use <paramref name="ticket"/> belongs to; false when another party already did, or it is a later use.</summary>
    public bool TrySignal(long ticket, WakeReason reason, PooledConnection? connection = null)
    {
        Debug.Assert((ticket & 1) == 0, "A ticket is always a waiting state.");
        if (Interlocked.CompareExchange(ref _state, ticket | 1, ticket) != ticket)
        {
            return false;
        }

        // This party alone owns the use now; the connection is published by SetResult.
        _connection = connection;
        _core.SetResult(reason);
        return true;
    }

    public ValueTask<WakeReason> WaitAsync() => new(this, _core.Version);

    /// <summary>The connection handed with <see cref="WakeReason.Connection"/>, once; the caller owns it.</summary>
    public PooledConnection? TakeConnection()
    {
        var connection = _connection;
        _connection = null;
        return connection;
    }

    /// <summary>
    /// Ends the use so the waiter can go back to its pool. When the use was never awaited (the
    /// caller left on an error), it is completed here so no party can complete it later; should a
    /// hand-off have won it first, the handed connection is returned for the caller to give back.
    /// </summary>
    public PooledConnection? Release()
    {
        var state = Volatile.Read(ref _state);
        while ((state & 1) == 0)
        {
            var seen = Interlocked.CompareExchange(ref _state, state | 1, state);
            if (seen == state)
            {
                break; // ours: nobody signals this use any more
            }

            state = seen;
        }

        PooledConnection? left = null;
        if ((state & 1) != 0)
        {
            // Another party completed the use; it may still be publishing its result.
            var spin = default(SpinWait);
            while (_core.GetStatus(_core.Version) == ValueTaskSourceStatus.Pending)
            {
                spin.SpinOnce();
            }

            left = TakeConnection();
        }

        _cancellation.Dispose(); // waits for a callback already running
        _cancellation = default;
        if (_timerArmed)
        {
            _timerArmed = false;
            Volatile.Write(ref _deadline, long.MaxValue);
            try
            {
                _timer!.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // Nothing left to stop.
            }
        }

        Debug.Assert(!IsQueued, "A waiter was released while still in line.");
        if (_core.GetStatus(_core.Version) != ValueTaskSourceStatus.Pending)
        {
            _core.Reset();
        }

        return left;
    }

    public void Dispose() => _timer?.Dispose();

    WakeReason IValueTaskSource<WakeReason>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<WakeReason>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<WakeReason>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
        => _core.OnCompleted(continuation, state, token, flags);

    private void OnCanceled()
    {
        var state = Volatile.Read(ref _state);
        if ((state & 1) == 0)
        {
            TrySignal(state, WakeReason.Canceled);
        }
    }

    private void OnDeadline()
    {
        var state = Volatile.Read(ref _state);
        if ((state & 1) == 0)
        {
            TrySignal(state, WakeReason.TimedOut);
        }
    }

    private void OnTimer()
    {
        // May be a late tick of an earlier use: act only on the use waiting now, and only once
        // its own deadline has passed (the state is read first, the deadline written before it).
        var state = Volatile.Read(ref _state);
        if ((state & 1) != 0)
        {
            return;
        }

        var deadline = Volatile.Read(ref _deadline);
        if (deadline == long.MaxValue)
        {
            return;
        }

        if (_timeProvider.GetTimestamp() < deadline)
        {
            // A timer may fire a little early (whole milliseconds, a coarser clock): look again later.
            try
            {
                _timer!.Change(DueIn(deadline), Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // The pool was disposed; disposal completes the waiter.
            }

            return;
        }

        TrySignal(state, WakeReason.TimedOut);
    }

    private TimeSpan DueIn(long deadline)
    {
        var due = _timeProvider.GetElapsedTime(_timeProvider.GetTimestamp(), deadline);
        return due <= TimeSpan.Zero ? TimeSpan.Zero : TimeSpan.FromMilliseconds(Math.Ceiling(due.TotalMilliseconds));
    }
}

/// <summary>Creates <see cref="Waiter"/>s for an <see cref="ObjectPool{T}"/>; every released waiter is fit for reuse.</summary>
internal sealed class WaiterPolicy(TimeProvider timeProvider) : PooledObjectPolicy<Waiter>
{
    /// <summary>Waiters kept for reuse: enough for a crowd of callers; more are created and dropped.</summary>
    public const int MaximumRetained = 1024;

    public static ObjectPool<Waiter> CreatePool(TimeProvider timeProvider)
        => new DefaultObjectPoolProvider { MaximumRetained = MaximumRetained }.Create(new WaiterPolicy(timeProvider));

    public override Waiter Create() => new(timeProvider);

    public override bool Return(Waiter obj) => !obj.IsWaiting && !obj.IsQueued;
}
