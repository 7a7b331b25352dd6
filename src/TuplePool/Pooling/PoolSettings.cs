using System.Runtime.CompilerServices;
using TuplePool.Internal;

namespace TuplePool.Pooling;

/// <summary>
/// The pool's view of its (already copied) options: the values read on every lend and return,
/// pre-converted to timestamp ticks, the derived reaper timing, and the coarse clock.
/// </summary>
internal sealed class PoolSettings
{
    /// <summary>
    /// A destination acquired from within this long counts as in use, and MinIdlePerDestination
    /// keeps it topped up (DestinationPool.Warm.cs). Fixed, not EmptyDestinationTimeout: how
    /// soon an unused destination is forgotten says nothing about how long warming should go on.
    /// </summary>
    public static readonly TimeSpan InUseWindow = TimeSpan.FromSeconds(60);

    private long _clock;

    public PoolSettings(TuplePoolOptions options, TimeProvider timeProvider)
    {
        Options = options;
        TimeProvider = timeProvider;
        MaxIdle = options.MaxIdlePerDestination;
        MaxConnections = options.MaxConnectionsPerDestination;
        ValidateOnAcquire = options.ValidateOnAcquire;
        CloseMode = options.CloseMode;
        AcquireTimeout = options.AcquireTimeout;
        IdleTimeoutTicks = options.IdleTimeout == Timeout.InfiniteTimeSpan ? long.MaxValue : Timestamps.ToTicks(options.IdleTimeout, timeProvider);
        LifetimeTicks = options.ConnectionLifetime == Timeout.InfiniteTimeSpan ? long.MaxValue : Timestamps.ToTicks(options.ConnectionLifetime, timeProvider);
        NatIdleTimeoutTicks = options.Nat is not { IdleTimeout: var natIdle } || natIdle == Timeout.InfiniteTimeSpan ? long.MaxValue : Timestamps.ToTicks(natIdle, timeProvider);
        TracksIdleTime = IdleTimeoutTicks != long.MaxValue || LifetimeTicks != long.MaxValue || NatIdleTimeoutTicks != long.MaxValue;
        ReaperPeriod = ComputeReaperPeriod(options);
        ClockResolution = TracksIdleTime && ReaperPeriod > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : ReaperPeriod;
        SweepEveryTicks = Math.Max(1, (int)(ReaperPeriod.Ticks / ClockResolution.Ticks));
        ClockResolutionTicks = Timestamps.ToTicks(ClockResolution, timeProvider);
        EvictAfter = options.EmptyDestinationTimeout;
        EvictAfterTicks = EvictAfter == Timeout.InfiniteTimeSpan ? long.MaxValue : Timestamps.ToTicks(EvictAfter, timeProvider);
        InUseWindowTicks = Timestamps.ToTicks(InUseWindow, timeProvider);
        MaxPendingAcquires = options.MaxPendingAcquires;
        RefreshClock();
    }

    /// <summary>The pool's own copy of the options, for values read off the hot path.</summary>
    public TuplePoolOptions Options { get; }

    public TimeProvider TimeProvider { get; }

    public int MaxIdle { get; }

    public int MaxConnections { get; }

    public bool ValidateOnAcquire { get; }

    public CloseMode CloseMode { get; }

    public TimeSpan AcquireTimeout { get; }

    public int MaxPendingAcquires { get; }

    /// <summary>How long a destination stays with nothing open and nobody waiting before the reaper drops it (<see cref="TuplePoolOptions.EmptyDestinationTimeout"/>).</summary>
    public TimeSpan EvictAfter { get; }

    /// <summary><see cref="EvictAfter"/> in timestamp ticks; <see cref="long.MaxValue"/> for never.</summary>
    public long EvictAfterTicks { get; }

    /// <summary><see cref="InUseWindow"/> in timestamp ticks.</summary>
    public long InUseWindowTicks { get; }

    public long IdleTimeoutTicks { get; }

    public long LifetimeTicks { get; }

    /// <summary>The NAT's idle timeout (<see cref="NatOptions.IdleTimeout"/>) in timestamp ticks; <see cref="long.MaxValue"/> without a NAT or with none.</summary>
    public long NatIdleTimeoutTicks { get; }

    /// <summary>False when both IdleTimeout and ConnectionLifetime are infinite: lends and returns then read no clock.</summary>
    public bool TracksIdleTime { get; }

    /// <summary>How often the reaper sweeps idle connections, empty destinations and unused ledgers.</summary>
    public TimeSpan ReaperPeriod { get; }

    /// <summary>How often the pool's timer ticks while it has any destination or ledger: at most 1 s.</summary>
    public TimeSpan ClockResolution { get; }

    /// <summary><see cref="ClockResolution"/> in timestamp ticks.</summary>
    public long ClockResolutionTicks { get; }

    /// <summary>The timer sweeps the idle stores every this many ticks (every <see cref="ReaperPeriod"/>).</summary>
    public int SweepEveryTicks { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public long Now() => TimeProvider.GetTimestamp();

    /// <summary>
    /// The <see cref="TimeProvider"/> timestamp as of the last timer tick (at most
    /// <see cref="ClockResolution"/> old while any destination exists). Lending and returning read this
    /// field instead of the clock: a clock read costs about 20 ns on Linux, more than the whole rest
    /// of an idle hit, and idle and lifetime limits of seconds do not need nanoseconds. The
    /// reaper, which runs on the same tick, uses the exact clock.
    /// </summary>
    public long CoarseNow
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Volatile.Read(ref _clock);
    }

    public void RefreshClock() => Volatile.Write(ref _clock, TimeProvider.GetTimestamp());

    /// <summary>
    /// A quarter of the shortest of IdleTimeout, ConnectionLifetime and the NAT's idle timeout, between 100 ms and 5 s:
    /// often enough that an expired socket does not hold its port long, rarely enough to cost nothing.
    /// </summary>
    private static TimeSpan ComputeReaperPeriod(TuplePoolOptions options)
    {
        var shortest = TimeSpan.FromSeconds(20);
        foreach (var span in new[] { options.IdleTimeout, options.ConnectionLifetime, options.Nat?.IdleTimeout ?? Timeout.InfiniteTimeSpan })
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
