using System.Runtime.CompilerServices;
using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>The options the pool reads on every lend and return, copied once and pre-converted to timestamp ticks.</summary>
internal sealed class PoolSettings
{
    public PoolSettings(TuplePoolOptions options, TimeProvider timeProvider)
    {
        TimeProvider = timeProvider;
        MaxIdle = options.MaxIdlePerDestination;
        MaxConnections = options.MaxConnectionsPerDestination;
        ValidateOnAcquire = options.ValidateOnAcquire;
        CloseMode = options.CloseMode;
        AcquireTimeout = options.AcquireTimeout;
        IdleTimeout = options.IdleTimeout;
        IdleTimeoutTicks = options.IdleTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : TupleLedger.ToTimestampTicks(options.IdleTimeout, timeProvider);
        LifetimeTicks = options.ConnectionLifetime == Timeout.InfiniteTimeSpan ? long.MaxValue : TupleLedger.ToTimestampTicks(options.ConnectionLifetime, timeProvider);
        TracksIdleTime = IdleTimeoutTicks != long.MaxValue || LifetimeTicks != long.MaxValue;
        ReaperPeriod = ComputeReaperPeriod(options);
    }

    public TimeProvider TimeProvider { get; }

    public int MaxIdle { get; }

    public int MaxConnections { get; }

    public bool ValidateOnAcquire { get; }

    public CloseMode CloseMode { get; }

    public TimeSpan AcquireTimeout { get; }

    public TimeSpan IdleTimeout { get; }

    public long IdleTimeoutTicks { get; }

    public long LifetimeTicks { get; }

    /// <summary>False when both IdleTimeout and ConnectionLifetime are infinite: lends and returns then read no clock.</summary>
    public bool TracksIdleTime { get; }

    /// <summary>How often the reaper sweeps idle connections while there are any.</summary>
    public TimeSpan ReaperPeriod { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Now() => TimeProvider.GetTimestamp();

    /// <summary>
    /// A quarter of the shorter of IdleTimeout and ConnectionLifetime, between 100 ms and 5 s:
    /// often enough that an expired socket does not hold its port long, rarely enough to cost nothing.
    /// </summary>
    private static TimeSpan ComputeReaperPeriod(TuplePoolOptions options)
    {
        var shortest = TimeSpan.FromSeconds(20);
        foreach (var span in new[] { options.IdleTimeout, options.ConnectionLifetime })
        {
            if (span != Timeout.InfiniteTimeSpan && span > TimeSpan.Zero && span < shortest)
            {
                shortest = span;
            }
        }

        var period = shortest / 4;
        return period < TimeSpan.FromMilliseconds(100) ? TimeSpan.FromMilliseconds(100) : period;
    }
}
