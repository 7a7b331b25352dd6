using System.Net;
using Polly;
using TuplePool.Internal;

namespace TuplePool;

/// <summary>
/// Settings of a <see cref="SocketPool"/>. A plain get/set class so it binds from configuration
/// (section <c>"TuplePool"</c>); each setting's default and unit are in its <c>value</c> doc.
/// Validated when the pool is built, and at start-up with <c>AddTuplePool</c>.
/// </summary>
public sealed class TuplePoolOptions
{
    /// <summary>
    /// Local addresses new connections are made from. Each (source, destination IP, destination
    /// port) triple gets the whole port range, so N sources give N times the connections to one
    /// destination. Addresses must be assigned to this machine. An IPv4-mapped IPv6 address
    /// (<c>::ffff:a.b.c.d</c>) is taken as the IPv4 address a.b.c.d, which is what the kernel binds
    /// for it: an IPv4 source for IPv4 destinations.
    /// </summary>
    /// <value>Default: empty, which lets the kernel choose the source; the pool still budgets that single implicit source.</value>
    public IList<IPAddress> SourceAddresses { get; set; } = new List<IPAddress>();

    /// <summary>
    /// Networks whose every address this machine serves (an AnyIP route: <c>ip route add local
    /// 198.18.64.0/24 dev lo</c>, <c>ip -6 route add local 2001:db8:1::/64 dev lo</c>), for a
    /// client whose connections to one destination need more sources than a list holds, such as
    /// a load generator. Each new connection takes an address of the prefix whose tuple to the
    /// destination has the most room, normally one with nothing on it, so N connections to one
    /// destination port use N sources; only addresses in use are followed (and shown in
    /// <see cref="ISocketPool.GetSnapshot"/>), so memory does not grow with the prefix. The
    /// network's own address and an IPv4 network's broadcast address are not used. An IPv4
    /// socket binds an address of a local route as it is; an IPv6 socket does not, so the pool
    /// sets <c>IP_FREEBIND</c> on sockets bound to an IPv6 prefix's address (and only there).
    /// With it any address binds, served or not, so start-up validation checks that this machine
    /// serves each prefix: an address of it binds (IPv4), or a local route covers it
    /// (<c>/proc/net/ipv6_route</c>); a connection from an address the machine does not serve
    /// would time out, its answers routed elsewhere. A prefix must hold at least 4 addresses (IPv4
    /// /30, IPv6 /126 or shorter), must not overlap another or contain a
    /// <see cref="SourceAddresses"/> entry; it counts as a source of its family, beside the
    /// listed addresses.
    /// </summary>
    /// <value>Default: empty, no prefix. Networks in CIDR notation in configuration (<c>["198.18.64.0/24", "2001:db8:1::/64"]</c>).</value>
    public IList<IPNetwork> SourcePrefixes { get; set; } = new List<IPNetwork>();

    /// <summary>
    /// The local port range this pool's sockets use (Linux ≥ 6.3, <c>IP_LOCAL_PORT_RANGE</c>). A
    /// narrower slice lets several pools or processes share a machine without starving each other.
    /// </summary>
    /// <value>Default: null, the system range from <c>net.ipv4.ip_local_port_range</c>. Ports, inclusive, within 1–65535.</value>
    public PortRange? LocalPortRange { get; set; }

    /// <summary>
    /// Ports of each tuple the pool leaves unused, for other programs on the machine that
    /// connect to the same destination.
    /// </summary>
    /// <value>Default: 0. A number of ports, from 0 to 65,534, and fewer than the tuple's port range holds.</value>
    public int ReservedPortsPerTuple { get; set; } = TuplePoolDefaults.ReservedPortsPerTuple;

    /// <summary>
    /// Most open connections (leased plus idle) to one destination. Acquirers past it wait like
    /// acquirers without budget.
    /// </summary>
    /// <value>Default: unlimited (<see cref="int.MaxValue"/>): the tuple budget (sources × ports) is the limit. Connections, at least 1.</value>
    public int MaxConnectionsPerDestination { get; set; } = TuplePoolDefaults.MaxConnectionsPerDestination;

    /// <summary>Most idle sockets kept per destination; more are closed on return.</summary>
    /// <value>Default: 64. Connections, at least 1.</value>
    public int MaxIdlePerDestination { get; set; } = TuplePoolDefaults.MaxIdlePerDestination;

    /// <summary>An idle socket older than this is closed and never handed out.</summary>
    /// <value>Default: 60 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> to keep idle sockets until they expire otherwise.</value>
    public TimeSpan IdleTimeout { get; set; } = TuplePoolDefaults.IdleTimeout;

    /// <summary>
    /// A socket open longer than this is closed on return instead of reused (lets DNS and load
    /// balancer changes take effect).
    /// </summary>
    /// <value>Default: infinite (<see cref="Timeout.InfiniteTimeSpan"/>). Positive, or infinite.</value>
    public TimeSpan ConnectionLifetime { get; set; } = TuplePoolDefaults.ConnectionLifetime;

    /// <summary>
    /// How long <see cref="ISocketPool.AcquireAsync"/> waits, in FIFO order, for budget to free
    /// before it throws <see cref="TupleBudgetExhaustedException"/>.
    /// </summary>
    /// <value>Default: 30 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> to wait until cancelled.</value>
    public TimeSpan AcquireTimeout { get; set; } = TuplePoolDefaults.AcquireTimeout;

    /// <summary>How long one connect attempt may take.</summary>
    /// <value>Default: 10 seconds. Between 10 milliseconds and 1 day.</value>
    public TimeSpan ConnectTimeout { get; set; } = TuplePoolDefaults.ConnectTimeout;

    /// <summary>
    /// How long a tuple is charged after this side closes a connection gracefully: the kernel's
    /// fixed <c>TCP_TIMEWAIT_LEN</c>. Where the kernel may take a TIME_WAIT tuple over
    /// (<c>net.ipv4.tcp_tw_reuse</c> 1, or 2 with a loopback address, and <c>net.ipv4.tcp_timestamps</c> on) the
    /// pool charges only <c>net.ipv4.tcp_tw_reuse_delay</c> (1 second by default), or this
    /// duration when it is shorter.
    /// </summary>
    /// <value>Default: 60 seconds. Zero (charge nothing) or positive.</value>
    public TimeSpan TimeWaitDuration { get; set; } = TuplePoolDefaults.TimeWaitDuration;

    /// <summary>
    /// Check each idle socket for unread bytes, FIN or RST (one non-blocking syscall) and, on
    /// Linux, for bytes of an earlier write still unsent (one more, <c>SIOCOUTQNSD</c>: a write
    /// cancelled while the peer's window was shut) before it is handed out again. Turn off only
    /// for protocols whose callers return clean sockets and where a dead socket is detected by
    /// the caller anyway.
    /// </summary>
    /// <value>Default: true.</value>
    public bool ValidateOnAcquire { get; set; } = true;

    /// <summary>How sockets are closed when the pool drops them.</summary>
    /// <value>Default: <see cref="CloseMode.Graceful"/>.</value>
    public CloseMode CloseMode { get; set; } = CloseMode.Graceful;

    /// <summary>How a new connection picks its source address.</summary>
    /// <value>Default: <see cref="SourceSelectionMode.MostRemaining"/>.</value>
    public SourceSelectionMode SourceSelection { get; set; } = SourceSelectionMode.MostRemaining;

    /// <summary>How long a source address that failed to bind is left out of new connections.</summary>
    /// <value>Default: 30 seconds. At least 100 milliseconds, so a source that cannot bind is not tried again on every connect.</value>
    public TimeSpan SourceQuarantine { get; set; } = TuplePoolDefaults.SourceQuarantine;

    /// <summary>
    /// How long a resolution of a <see cref="DnsEndPoint"/> destination is reused before the pool
    /// asks DNS again. Idle hits for a name never wait for DNS.
    /// </summary>
    /// <value>Default: 60 seconds. Zero or positive, or <see cref="Timeout.InfiniteTimeSpan"/> to resolve once.</value>
    public TimeSpan DnsRefreshInterval { get; set; } = TuplePoolDefaults.DnsRefreshInterval;

    /// <summary>
    /// How long a destination with no open connection and nobody waiting is remembered before
    /// the pool forgets it: its idle store, waiting line, resolved addresses and metric series
    /// go, so a service that talks to many destinations once (a crawler) holds memory for the
    /// destinations it uses, not for every one it ever used. The next acquire of a forgotten
    /// destination starts it afresh (a name is resolved again).
    /// </summary>
    /// <value>Default: 60 seconds. Zero (forgotten at the next sweep of the pool's timer) or positive, or <see cref="Timeout.InfiniteTimeSpan"/> to keep every destination for the pool's lifetime.</value>
    public TimeSpan EmptyDestinationTimeout { get; set; } = TuplePoolDefaults.EmptyDestinationTimeout;

    /// <summary>
    /// Connect attempts per new connection. An address error (the kernel's <c>EADDRNOTAVAIL</c>,
    /// <c>EADDRINUSE</c>, a source that cannot bind) moves the next attempt to another source;
    /// refused and unreachable destinations are not retried.
    /// </summary>
    /// <value>Default: 3. Attempts, from 1 to 100; never more than there are sources to try, and the retries after the first back off (25 ms, doubling up to 1 s).</value>
    public int MaxConnectAttempts { get; set; } = TuplePoolDefaults.MaxConnectAttempts;

    /// <summary>
    /// Adds strategies of your own (a circuit breaker, hedging, telemetry) to the Polly pipeline
    /// around each new connection. Called once per destination with that destination, so a
    /// circuit breaker added here breaks per destination. Your strategies run outside
    /// TuplePool's own retry-on-another-source and per-attempt timeout. A strategy may run the open
    /// more than once and keep one result (hedging, a retry on a result): every connection it does
    /// not hand back is closed (RST) and its port released when the pipeline returns.
    /// </summary>
    /// <value>Default: null, which adds nothing. Not read from configuration.</value>
    public Action<ResiliencePipelineBuilder, EndPoint>? ConfigureConnectPipeline { get; set; }

    /// <summary>
    /// RFC 8305 "Connection Attempt Delay": when a destination has several addresses, how long
    /// one connect attempt runs before the next address is tried beside it (IPv6 and IPv4
    /// interleaved); the first to connect wins and the others are cancelled and released. An
    /// address whose attempt failed, or was still unanswered a whole delay after it started when
    /// another address won, is tried after the others for the next 10 minutes (RFC 8305 §4: sort
    /// by what was seen), so a name with a dead IPv6 address pays the delay about once per
    /// 10 minutes instead of on every new connection.
    /// </summary>
    /// <value>
    /// Default: 250 milliseconds. At least 10 milliseconds, or <see cref="Timeout.InfiniteTimeSpan"/>
    /// to turn Happy Eyeballs off: addresses are then tried one after another, each after the
    /// previous one failed.
    /// </value>
    public TimeSpan HappyEyeballsDelay { get; set; } = TuplePoolDefaults.HappyEyeballsDelay;

    /// <summary>
    /// The bound on opening one new connection, over every address and attempt it makes
    /// (<see cref="ConnectTimeout"/> bounds each attempt); what
    /// <c>SocketsHttpHandler.ConnectTimeout</c> means to its users.
    /// </summary>
    /// <value>Default: 30 seconds. Positive, or <see cref="Timeout.InfiniteTimeSpan"/> for no overall bound.</value>
    public TimeSpan TotalConnectTimeout { get; set; } = TuplePoolDefaults.TotalConnectTimeout;

    /// <summary>
    /// TCP keepalive on the pool's sockets (<c>SO_KEEPALIVE</c>, <c>TCP_KEEPIDLE</c>,
    /// <c>TCP_KEEPINTVL</c>, <c>TCP_KEEPCNT</c>), so an idle connection silently dropped by a NAT
    /// or load balancer is found dead.
    /// </summary>
    /// <value>Default: null, keepalive off, as the stock <c>SocketsHttpHandler</c> has it.</value>
    public TcpKeepAlive? KeepAlive { get; set; }

    /// <summary>
    /// Idle connections the pool keeps open per destination already in use, topped up by the
    /// reaper (within the budget and <see cref="MaxIdlePerDestination"/>).
    /// </summary>
    /// <value>Default: 0. Connections, from 0 to <see cref="MaxIdlePerDestination"/>.</value>
    public int MinIdlePerDestination { get; set; } = TuplePoolDefaults.MinIdlePerDestination;

    /// <summary>
    /// Most callers that may wait for room at once, per destination; past it
    /// <see cref="ISocketPool.AcquireAsync"/> fails at once with <see cref="TupleBudgetExhaustedException"/>.
    /// </summary>
    /// <value>Default: unlimited (<see cref="int.MaxValue"/>). Callers, at least 1.</value>
    public int MaxPendingAcquires { get; set; } = TuplePoolDefaults.MaxPendingAcquires;

    /// <summary>
    /// A NAT on the path (a cloud NAT gateway, SNAT, a Kubernetes node's masquerade): its port
    /// budget per destination is charged as well as each local tuple's. See <see cref="NatOptions"/>.
    /// </summary>
    /// <value>Default: null, no NAT on the path. Configuration section <c>TuplePool:Nat</c>.</value>
    public NatOptions? Nat { get; set; }

    /// <summary>
    /// How finely the <c>TuplePool</c> meter breaks its series down. The pool-wide totals
    /// (connections by state, ports in TIME_WAIT and remaining, tuples in use, waiting callers,
    /// the NAT's ledger) are there at every level.
    /// </summary>
    /// <value>
    /// Default: <see cref="MetricDetail.Destination"/>, series per destination as the caller
    /// names it, like <c>System.Net.Http</c>'s <c>http.client.*</c>: their count follows the
    /// destinations a service talks to, which its operator knows. Not <see cref="MetricDetail.Tuple"/>:
    /// per-tuple series multiply that by source addresses and resolved addresses (800 tuples
    /// already pass <c>dotnet-counters</c>' 1,000-series limit), and a histogram series per
    /// resolved address lives on after DNS has moved on. <see cref="MetricDetail.Pool"/> for very
    /// many destinations.
    /// </value>
    public MetricDetail MetricDetail { get; set; } = MetricDetail.Destination;

    /// <summary>
    /// The pool's name in telemetry (<c>tuplepool.pool.name</c>): the key <c>AddTuplePool(name, ...)</c>
    /// registered it with, else <c>"default"</c>. Set by the DI registration; not a setting.
    /// </summary>
    internal string PoolName { get; set; } = TuplePoolDefaults.PoolName;

    /// <summary>
    /// A copy the caller can no longer change: every setting by <see cref="object.MemberwiseClone"/>
    /// (so a new setting needs no edit here), and new instances of the mutable ones, the
    /// <see cref="SourceAddresses"/> list and its addresses, the <see cref="SourcePrefixes"/> list, <see cref="KeepAlive"/> and <see cref="Nat"/>.
    /// Each source address is copied as the kernel sees it (<see cref="AddressCopies.AsKernelSeesIt"/>):
    /// an IPv4-mapped address becomes the IPv4 address, so the pool budgets and binds it as one.
    /// </summary>
    internal TuplePoolOptions Clone()
    {
        var copy = (TuplePoolOptions)MemberwiseClone();

        // A null list, or a null in it, is left for validation to name.
        copy.SourceAddresses = SourceAddresses is null
            ? null!
            : SourceAddresses.Select(static a => a is null ? null! : AddressCopies.AsKernelSeesIt(a)).ToList();
        copy.SourcePrefixes = SourcePrefixes is null ? null! : SourcePrefixes.ToList();
        copy.KeepAlive = KeepAlive?.Clone();
        copy.Nat = Nat?.Clone();
        return copy;
    }
}
