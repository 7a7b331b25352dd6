using System.Net;

namespace TuplePool;

/// <summary>
/// A NAT on the path to some destinations (a cloud NAT gateway, a load balancer's SNAT, a
/// Kubernetes node's masquerade): it rewrites the source to its own address and port, so it has
/// a port budget per (destination IP, destination port) of its own — usually tighter than the
/// host's — and when it runs out it drops the SYN, which a caller sees as a connect that times
/// out. With this set, every new connection to a destination behind the NAT is charged to a
/// NAT ledger as well as to its local tuple, whichever local source it leaves from (they all
/// leave through the same NAT), and callers wait for room or get
/// <see cref="TupleBudgetExhaustedException"/> naming the NAT, never a SYN that times out.
/// </summary>
/// <remarks>
/// The README's "Behind a NAT" section lists the providers' figures and how to pick these
/// numbers. Configuration section <c>TuplePool:Nat</c>.
/// </remarks>
public sealed class NatOptions
{
    /// <summary>
    /// Ports the NAT gives to one destination IP and port: this instance's alone, or — with an
    /// <see cref="IFleetBudget"/> — the whole fleet's that shares the NAT, from which each
    /// instance draws its grant.
    /// </summary>
    /// <value>Default: none (0, which validation refuses): set it from the NAT's documentation (Azure App Service 128 per instance, GCP Cloud NAT's minimum ports per VM, an nftables masquerade's port range). Ports, from 1 to 1,048,576.</value>
    public int PortsPerDestination { get; set; }

    /// <summary>How long the NAT keeps a port after the connection closed with FIN (whichever side closed first).</summary>
    /// <value>Default: 120 seconds (Linux conntrack's <c>nf_conntrack_tcp_timeout_time_wait</c>). Zero or positive.</value>
    public TimeSpan HoldAfterClose { get; set; } = NatDefaults.HoldAfterClose;

    /// <summary>How long the NAT keeps a port after the connection was reset (RST), or after a connect that was refused.</summary>
    /// <value>Default: 10 seconds (conntrack's <c>nf_conntrack_tcp_timeout_close</c>). Zero or positive.</value>
    public TimeSpan HoldAfterReset { get; set; } = NatDefaults.HoldAfterReset;

    /// <summary>
    /// The NAT forgets a flow quiet for this long; a pooled connection idle longer is dead on the
    /// NAT's side, so it is never lent (it is closed instead). Turn on
    /// <see cref="TuplePoolOptions.KeepAlive"/> with a <c>Time</c> below this when idle
    /// connections should survive quiet periods instead.
    /// </summary>
    /// <value>Default: 4 minutes (Azure's SNAT idle timeout, the shortest of the big clouds). Positive, or <see cref="Timeout.InfiniteTimeSpan"/>.</value>
    public TimeSpan IdleTimeout { get; set; } = NatDefaults.IdleTimeout;

    /// <summary>The destinations whose traffic crosses the NAT.</summary>
    /// <value>Default: empty, meaning every destination that is not a loopback address.</value>
    public IList<IPNetwork> Destinations { get; set; } = new List<IPNetwork>();

    /// <summary>A copy the caller can no longer change.</summary>
    internal NatOptions Clone()
    {
        var copy = (NatOptions)MemberwiseClone();
        copy.Destinations = Destinations is null ? null! : new List<IPNetwork>(Destinations);
        return copy;
    }
}

/// <summary>Defaults of <see cref="NatOptions"/>.</summary>
internal static class NatDefaults
{
    /// <summary>Linux conntrack <c>nf_conntrack_tcp_timeout_time_wait</c>.</summary>
    public static readonly TimeSpan HoldAfterClose = TimeSpan.FromSeconds(120);

    /// <summary>Linux conntrack <c>nf_conntrack_tcp_timeout_close</c>.</summary>
    public static readonly TimeSpan HoldAfterReset = TimeSpan.FromSeconds(10);

    /// <summary>Azure SNAT's idle timeout.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromMinutes(4);

    /// <summary>Upper bound of <see cref="NatOptions.PortsPerDestination"/>: 16 NAT addresses of 65,536 ports.</summary>
    public const int MaxPortsPerDestination = 1 << 20;
}
