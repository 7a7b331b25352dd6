using System.Net;
using Polly;

namespace TuplePool;

/// <summary>
/// Settings of a <see cref="SocketPool"/>. A plain get/set class so it binds from configuration;
/// every default lives in <see cref="TuplePoolDefaults"/>. Validated when the pool is built.
/// </summary>
public sealed class TuplePoolOptions
{
    /// <summary>
    /// Local addresses new connections are made from. Each (source, destination IP, destination
    /// port) triple gets the whole port range, so N sources give N times the connections to one
    /// destination. Addresses must be assigned to this machine. Empty (the default) lets the
    /// kernel choose the source; the pool still budgets that single implicit source.
    /// </summary>
    public IList<IPAddress> SourceAddresses { get; set; } = new List<IPAddress>();

    /// <summary>
    /// The local port range this pool's sockets use (Linux ≥ 6.3, <c>IP_LOCAL_PORT_RANGE</c>).
    /// Null (the default) = the system range from <c>ip_local_port_range</c>. A narrower slice
    /// lets several pools or processes share a machine without starving each other.
    /// </summary>
    public PortRange? LocalPortRange { get; set; }

    /// <summary>
    /// Ports of each tuple the pool leaves unused, for other programs on the machine that
    /// connect to the same destination. Default 0.
    /// </summary>
    public int ReservedPortsPerTuple { get; set; } = TuplePoolDefaults.ReservedPortsPerTuple;

    /// <summary>
    /// Most open connections (leased plus idle) to one destination. Default unlimited: the tuple
    /// budget (sources × ports) is the limit. Acquirers past it wait like acquirers without budget.
    /// </summary>
    public int MaxConnectionsPerDestination { get; set; } = TuplePoolDefaults.MaxConnectionsPerDestination;

    /// <summary>Most idle sockets kept per destination; more are closed on return. Default 64.</summary>
    public int MaxIdlePerDestination { get; set; } = TuplePoolDefaults.MaxIdlePerDestination;

    /// <summary>An idle socket older than this is closed and never handed out. Default 60 s.</summary>
    public TimeSpan IdleTimeout { get; set; } = TuplePoolDefaults.IdleTimeout;

    /// <summary>
    /// A socket open longer than this is closed on return instead of reused (lets DNS and load
    /// balancer changes take effect). Default infinite (<see cref="Timeout.InfiniteTimeSpan"/>).
    /// </summary>
    public TimeSpan ConnectionLifetime { get; set; } = TuplePoolDefaults.ConnectionLifetime;

    /// <summary>
    /// How long <see cref="ISocketPool.AcquireAsync"/> waits, in FIFO order, for budget to free
    /// before it throws <see cref="TupleBudgetExhaustedException"/>. Default 30 s.
    /// </summary>
    public TimeSpan AcquireTimeout { get; set; } = TuplePoolDefaults.AcquireTimeout;

    /// <summary>How long one connect attempt may take. Default 10 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TuplePoolDefaults.ConnectTimeout;

    /// <summary>
    /// How long a tuple is charged after this side closes a connection gracefully. Default 60 s,
    /// the kernel's fixed <c>TCP_TIMEWAIT_LEN</c>. Where <c>net.ipv4.tcp_tw_reuse</c> lets the
    /// kernel take a TIME_WAIT tuple over (1, or 2 with a loopback address), the pool charges
    /// only <see cref="TuplePoolDefaults.TimeWaitReuseDelay"/>.
    /// </summary>
    public TimeSpan TimeWaitDuration { get; set; } = TuplePoolDefaults.TimeWaitDuration;

    /// <summary>
    /// Check each idle socket for unread bytes, FIN or RST (one non-blocking syscall) before it
    /// is handed out again. Default true. Turn off only for protocols whose callers return clean
    /// sockets and where a dead socket is detected by the caller anyway.
    /// </summary>
    public bool ValidateOnAcquire { get; set; } = true;

    /// <summary>How sockets are closed when the pool drops them. Default <see cref="CloseMode.Graceful"/>.</summary>
    public CloseMode CloseMode { get; set; } = CloseMode.Graceful;

    /// <summary>How a new connection picks its source address. Default <see cref="SourceSelectionMode.MostRemaining"/>.</summary>
    public SourceSelectionMode SourceSelection { get; set; } = SourceSelectionMode.MostRemaining;

    /// <summary>How long a source address that failed to bind is left out. Default 30 s.</summary>
    public TimeSpan SourceQuarantine { get; set; } = TuplePoolDefaults.SourceQuarantine;

    /// <summary>
    /// How long a resolution of a <see cref="DnsEndPoint"/> destination is reused before the pool
    /// asks DNS again. Idle hits for a name never wait for DNS. Default 60 s.
    /// </summary>
    public TimeSpan DnsRefreshInterval { get; set; } = TuplePoolDefaults.DnsRefreshInterval;

    /// <summary>
    /// Connect attempts per new connection. An address error (the kernel's <c>EADDRNOTAVAIL</c>,
    /// <c>EADDRINUSE</c>, a source that cannot bind) moves the next attempt to another source;
    /// refused and unreachable destinations are not retried. Default 3.
    /// </summary>
    public int MaxConnectAttempts { get; set; } = TuplePoolDefaults.MaxConnectAttempts;

    /// <summary>
    /// Adds strategies of your own (a circuit breaker, hedging, telemetry) to the Polly pipeline
    /// around each new connection. Called once per destination with that destination, so a
    /// circuit breaker added here breaks per destination. Your strategies run outside
    /// TuplePool's own retry-on-another-source and per-attempt timeout. Null (the default) adds
    /// nothing. Do not add strategies that run an attempt and throw its result away (hedging,
    /// retry on a result): the discarded attempt's socket is not closed until it is collected.
    /// </summary>
    public Action<ResiliencePipelineBuilder, EndPoint>? ConfigureConnectPipeline { get; set; }

    /// <summary>
    /// RFC 8305 "Connection Attempt Delay": when a destination has several addresses, how long
    /// one connect attempt runs before the next address is tried beside it (IPv6 and IPv4
    /// interleaved); the first to connect wins and the others are cancelled and released.
    /// Default 250 ms. <see cref="Timeout.InfiniteTimeSpan"/> turns Happy Eyeballs off: addresses
    /// are then tried one after another, each after the previous one failed.
    /// </summary>
    public TimeSpan HappyEyeballsDelay { get; set; } = TuplePoolDefaults.HappyEyeballsDelay;

    /// <summary>
    /// The bound on opening one new connection, over every address and attempt it makes
    /// (<see cref="ConnectTimeout"/> bounds each attempt); what
    /// <c>SocketsHttpHandler.ConnectTimeout</c> means to its users. Default 30 s;
    /// <see cref="Timeout.InfiniteTimeSpan"/> for no overall bound.
    /// </summary>
    public TimeSpan TotalConnectTimeout { get; set; } = TuplePoolDefaults.TotalConnectTimeout;

    /// <summary>
    /// TCP keepalive on the pool's sockets (<c>SO_KEEPALIVE</c>, <c>TCP_KEEPIDLE</c>,
    /// <c>TCP_KEEPINTVL</c>, <c>TCP_KEEPCNT</c>), so an idle connection silently dropped by a NAT
    /// or load balancer is found dead. Null (the default) leaves keepalive off, as the stock
    /// <c>SocketsHttpHandler</c> does.
    /// </summary>
    public TcpKeepAlive? KeepAlive { get; set; }

    /// <summary>
    /// Idle connections the pool keeps open per destination already in use, topped up by the
    /// reaper (within the budget and <see cref="MaxIdlePerDestination"/>). Default 0.
    /// </summary>
    public int MinIdlePerDestination { get; set; } = TuplePoolDefaults.MinIdlePerDestination;

    /// <summary>
    /// Most callers that may wait for room at once, per destination; past it
    /// <see cref="ISocketPool.AcquireAsync"/> fails at once with
    /// <see cref="TupleBudgetExhaustedException"/>. Default unlimited (<see cref="int.MaxValue"/>).
    /// </summary>
    public int MaxPendingAcquires { get; set; } = TuplePoolDefaults.MaxPendingAcquires;
}
