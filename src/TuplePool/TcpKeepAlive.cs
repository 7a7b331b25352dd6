namespace TuplePool;

/// <summary>
/// TCP keepalive settings for the pool's sockets (<see cref="TuplePoolOptions.KeepAlive"/>). A
/// connection idle for <see cref="Time"/> is probed every <see cref="Interval"/>; after
/// <see cref="RetryCount"/> unanswered probes the kernel resets it, and the pool's check before
/// the next lend sees the reset.
/// </summary>
public sealed class TcpKeepAlive
{
    /// <summary>Idle time before the first probe (<c>TCP_KEEPIDLE</c>). Default 60 s; whole seconds, at least 1 s.</summary>
    public TimeSpan Time { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Time between probes (<c>TCP_KEEPINTVL</c>). Default 10 s; whole seconds, at least 1 s.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Unanswered probes before the connection is dropped (<c>TCP_KEEPCNT</c>). Default 3; 1–127.</summary>
    public int RetryCount { get; set; } = 3;
}
