namespace TuplePool;

/// <summary>
/// TCP keepalive settings for the pool's sockets (<see cref="TuplePoolOptions.KeepAlive"/>). A
/// connection idle for <see cref="Time"/> is probed every <see cref="Interval"/>; after
/// <see cref="RetryCount"/> unanswered probes the kernel resets it, and the pool's check before
/// the next lend sees the reset.
/// </summary>
public sealed class TcpKeepAlive
{
    /// <summary>Idle time before the first probe (<c>TCP_KEEPIDLE</c>).</summary>
    /// <value>Default: 60 seconds. Whole seconds, from 1 to 32767.</value>
    public TimeSpan Time { get; set; } = TuplePoolDefaults.KeepAliveTime;

    /// <summary>Time between probes (<c>TCP_KEEPINTVL</c>).</summary>
    /// <value>Default: 10 seconds. Whole seconds, from 1 to 32767.</value>
    public TimeSpan Interval { get; set; } = TuplePoolDefaults.KeepAliveInterval;

    /// <summary>Unanswered probes before the connection is dropped (<c>TCP_KEEPCNT</c>).</summary>
    /// <value>Default: 3. Probes, from 1 to 127.</value>
    public int RetryCount { get; set; } = TuplePoolDefaults.KeepAliveRetryCount;

    /// <summary>A copy, so options copied by a pool do not change with the caller's instance.</summary>
    internal TcpKeepAlive Clone() => (TcpKeepAlive)MemberwiseClone();
}
