namespace TuplePool;

/// <summary>The default value of every <see cref="TuplePoolOptions"/> setting, in one place.</summary>
public static class TuplePoolDefaults
{
    /// <summary>Configuration section read by <c>AddTuplePool(IConfiguration)</c>: <c>"TuplePool"</c>.</summary>
    public const string ConfigurationSectionName = "TuplePool";

    /// <summary>Ports of each tuple kept back from the pool: 0.</summary>
    public const int ReservedPortsPerTuple = 0;

    /// <summary>Open connections per destination (leased + idle): unlimited; the tuple budget is the limit.</summary>
    public const int MaxConnectionsPerDestination = int.MaxValue;

    /// <summary>Idle sockets kept per destination: 64.</summary>
    public const int MaxIdlePerDestination = 64;

    /// <summary>How long a socket may sit idle before it is closed: 60 s.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>How long a socket may live before it is closed instead of reused: infinite.</summary>
    public static readonly TimeSpan ConnectionLifetime = Timeout.InfiniteTimeSpan;

    /// <summary>How long <c>AcquireAsync</c> waits for room before it throws: 30 s.</summary>
    public static readonly TimeSpan AcquireTimeout = TimeSpan.FromSeconds(30);

    /// <summary>How long one connect attempt may take: 10 s.</summary>
    public static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a tuple stays in TIME_WAIT after this side closes first: 60 s (<c>TCP_TIMEWAIT_LEN</c>).</summary>
    public static readonly TimeSpan TimeWaitDuration = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long the kernel waits before <c>tcp_tw_reuse</c> lets a new connection take over a
    /// TIME_WAIT tuple: 1 s (the kernel's <c>tcp_tw_reuse_delay</c> default, 1000 ms).
    /// </summary>
    public static readonly TimeSpan TimeWaitReuseDelay = TimeSpan.FromSeconds(1);

    /// <summary>How long a source address that failed to bind is left out: 30 s.</summary>
    public static readonly TimeSpan SourceQuarantine = TimeSpan.FromSeconds(30);

    /// <summary>How long a DNS resolution of a <see cref="System.Net.DnsEndPoint"/> is reused: 60 s.</summary>
    public static readonly TimeSpan DnsRefreshInterval = TimeSpan.FromSeconds(60);

    /// <summary>Connect attempts per acquire, each on another source where there is one: 3.</summary>
    public const int MaxConnectAttempts = 3;

    /// <summary>RFC 8305 Connection Attempt Delay: 250 ms.</summary>
    public static readonly TimeSpan HappyEyeballsDelay = TimeSpan.FromMilliseconds(250);

    /// <summary>Bound on opening one new connection over all its attempts: 30 s.</summary>
    public static readonly TimeSpan TotalConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Idle connections kept open per destination in use: 0.</summary>
    public const int MinIdlePerDestination = 0;

    /// <summary>Callers that may wait for room at once per destination: unlimited.</summary>
    public const int MaxPendingAcquires = int.MaxValue;
}
