using System.Net.Sockets;
using TuplePool.Doctor.Host;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>The pool the doctor judges the host for: the configured one, or one with default options.</summary>
internal sealed class PoolPlan
{
    private PoolPlan(TuplePoolOptions options, bool isConfigured, PortRange range, int capacity, int sources)
    {
        Options = options;
        IsConfigured = isConfigured;
        Range = range;
        CapacityPerTuple = capacity;
        SourcesPerFamily = sources;
    }

    public TuplePoolOptions Options { get; }

    public bool IsConfigured { get; }

    /// <summary>The ports the pool takes from: its LocalPortRange, else the system range.</summary>
    public PortRange Range { get; }

    /// <summary>
    /// Range − reserved ports − listeners in it − ReservedPortsPerTuple. Listeners are not known
    /// to the pool's own budget, which therefore counts them as free.
    /// </summary>
    public int CapacityPerTuple { get; }

    /// <summary>The most source addresses of one family (a destination is served by one family); 1 when the kernel chooses.</summary>
    public int SourcesPerFamily { get; }

    public string Description => IsConfigured ? "as configured" : "with default options";

    /// <summary>Sockets one destination can take: every source's tuple full, or MaxConnectionsPerDestination.</summary>
    public long MaxSocketsPerDestination => Math.Min(Options.MaxConnectionsPerDestination, (long)SourcesPerFamily * CapacityPerTuple);

    public static PoolPlan Create(HostFacts facts, TuplePoolOptions? configured)
    {
        var options = configured ?? new TuplePoolOptions();
        var range = options.LocalPortRange is { IsValid: true } slice ? slice : facts.Kernel.PortRange;
        var reserved = facts.Kernel.CountReservedIn(range);
        var listeners = facts.ListenersInRange.Count(l => !l.IsReserved && range.Contains(l.Port));
        var capacity = Math.Max(0, range.Count - reserved - listeners - Math.Max(0, options.ReservedPortsPerTuple));
        var sources = options.SourceAddresses.Count == 0
            ? 1
            : Math.Max(
                options.SourceAddresses.Count(static a => a.AddressFamily == AddressFamily.InterNetwork),
                options.SourceAddresses.Count(static a => a.AddressFamily == AddressFamily.InterNetworkV6));
        return new PoolPlan(options, configured is not null, range, capacity, Math.Max(1, sources));
    }

    public string SustainedRate() => F($"about {RateText(CapacityPerTuple)} new connections/s per tuple, {RateText((long)SourcesPerFamily * CapacityPerTuple)} per destination");
}
