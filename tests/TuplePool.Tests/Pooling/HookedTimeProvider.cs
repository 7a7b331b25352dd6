using Microsoft.Extensions.Time.Testing;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that can run an action on a chosen clock read of one thread.
/// The pool reads its clock at fixed points of the slow path (when an acquire starts, when it
/// works out how long it may still wait), so a test can act exactly between two steps of it
/// without sleeping.
/// </summary>
internal sealed class HookedTimeProvider : TimeProvider
{
    private readonly FakeTimeProvider _inner = new();
    private Action? _action;
    private int _thread;
    private int _readsToSkip;

    public bool HookRan { get; private set; }

    public override long TimestampFrequency => _inner.TimestampFrequency;

    /// <summary>Runs <paramref name="action"/> once, on this thread's clock read number <paramref name="afterReads"/> + 1 from now.</summary>
    public void OnRead(int afterReads, Action action)
    {
        _thread = Environment.CurrentManagedThreadId;
        _readsToSkip = afterReads;
        _action = action;
    }

    public void Advance(TimeSpan by) => _inner.Advance(by);

    public override long GetTimestamp()
    {
        if (_action is not null && Environment.CurrentManagedThreadId == _thread)
        {
            if (_readsToSkip-- == 0)
            {
                var action = _action;
                _action = null;
                action();
                HookRan = true;
            }
        }

        return _inner.GetTimestamp();
    }

    public override DateTimeOffset GetUtcNow() => _inner.GetUtcNow();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        => _inner.CreateTimer(callback, state, dueTime, period);
}
