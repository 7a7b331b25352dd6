namespace TuplePool.Pooling;

/// <summary>Timers the pool keeps for a long time, created without the creating caller's context.</summary>
internal static class PoolTimers
{
    /// <summary>
    /// A stopped timer. The execution context is not captured: the pool's timers outlive the
    /// caller whose acquire created them (the first caller of a destination, the first waiter of
    /// a pooled waiter), and capturing its context would keep that caller's async-local state
    /// (an Activity, a logging scope) alive for good and run every tick inside it.
    /// </summary>
    public static ITimer Create(TimeProvider timeProvider, TimerCallback callback, object? state)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return timeProvider.CreateTimer(callback, state, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }
}
