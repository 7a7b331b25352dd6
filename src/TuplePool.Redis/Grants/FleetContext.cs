namespace TuplePool.Redis.Grants;

/// <summary>
/// What every destination's grant is planned with, fixed when the pool attaches: the split of the
/// NAT's capacity and the options' times in <see cref="TimeProvider.GetTimestamp"/> ticks.
/// </summary>
internal sealed class FleetContext
{
    public FleetContext(FleetShares shares, RedisFleetOptions options, TimeSpan holdAfterClose, TimeProvider timeProvider)
    {
        Shares = shares;
        TimeProvider = timeProvider;
        LeaseTime = options.LeaseTime;
        RecordTime = options.LeaseTime + holdAfterClose;
        RecoveryWindow = options.RecoveryWindow ?? RecordTime;
        LeaseTicks = Ticks(options.LeaseTime);
        RenewTicks = Ticks(options.LeaseTime / 3);
        RetryTicks = Ticks(options.WaitRetryInterval);
        SettleTicks = Ticks(RedisFleetDefaults.ShrinkSettleTime);
        TickPeriod = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond * 10, Math.Min(options.WaitRetryInterval.Ticks, options.LeaseTime.Ticks / 6)));
    }

    public FleetShares Shares { get; }

    public TimeProvider TimeProvider { get; }

    /// <summary>How long a grant lasts on this instance after the request that renewed it was sent.</summary>
    public TimeSpan LeaseTime { get; }

    /// <summary>How long Redis counts a grant after it answered: the lease plus the NAT's hold after close (a crashed instance's mappings outlive it).</summary>
    public TimeSpan RecordTime { get; }

    public TimeSpan RecoveryWindow { get; }

    public long LeaseTicks { get; }

    public long RenewTicks { get; }

    public long RetryTicks { get; }

    public long SettleTicks { get; }

    /// <summary>How often every grant is looked at (renewals, retries, settled hand-backs, ended leases).</summary>
    public TimeSpan TickPeriod { get; }

    public long Now() => TimeProvider.GetTimestamp();

    public long Ticks(TimeSpan span)
        => span <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(span.Ticks * (double)TimeProvider.TimestampFrequency / TimeSpan.TicksPerSecond);
}
