namespace TuplePool;

/// <summary>
/// The default value of every <see cref="TuplePoolOptions"/> setting, in one place. Internal on
/// purpose: a public constant is compiled into its callers, so a later change of a default would
/// never reach them. Users read the defaults in each option's documentation.
/// </summary>
internal static class TuplePoolDefaults
{
    /// <summary>Configuration section read by <c>AddTuplePool(IConfiguration)</c>.</summary>
    public const string ConfigurationSectionName = "TuplePool";

    /// <summary>The telemetry name (<c>tuplepool.pool.name</c>) of a pool that has no DI key.</summary>
    public const string PoolName = "default";

    public const int ReservedPortsPerTuple = 0;

    /// <summary>Unlimited; the tuple budget is the limit.</summary>
    public const int MaxConnectionsPerDestination = int.MaxValue;

    public const int MaxIdlePerDestination = 64;

    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan ConnectionLifetime = Timeout.InfiniteTimeSpan;

    public static readonly TimeSpan AcquireTimeout = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The kernel's <c>TCP_TIMEWAIT_LEN</c>.</summary>
    public static readonly TimeSpan TimeWaitDuration = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan SourceQuarantine = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan DnsRefreshInterval = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan EmptyDestinationTimeout = TimeSpan.FromSeconds(60);

    public const int MaxConnectAttempts = 3;

    /// <summary>RFC 8305 Connection Attempt Delay.</summary>
    public static readonly TimeSpan HappyEyeballsDelay = TimeSpan.FromMilliseconds(250);

    public static readonly TimeSpan TotalConnectTimeout = TimeSpan.FromSeconds(30);

    public const int MinIdlePerDestination = 0;

    /// <summary>Unlimited.</summary>
    public const int MaxPendingAcquires = int.MaxValue;

    public static readonly TimeSpan KeepAliveTime = TimeSpan.FromSeconds(60);

    public static readonly TimeSpan KeepAliveInterval = TimeSpan.FromSeconds(10);

    public const int KeepAliveRetryCount = 3;
}
