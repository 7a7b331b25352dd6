using System.Net;
using System.Net.Sockets;
using TuplePool.Doctor.Host;
using TuplePool.Options;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>The pool the doctor judges the host for: the configured one, or one with default options.</summary>
internal sealed class PoolPlan
{
    private PoolPlan(TuplePoolOptions options, bool isConfigured, PortRange range, int capacity, int sources, IReadOnlyList<IPNetwork> prefixes, UInt128 addresses)
    {
        Options = options;
        IsConfigured = isConfigured;
        Range = range;
        CapacityPerTuple = capacity;
        SourcesPerFamily = sources;
        Prefixes = prefixes;
        AddressesPerFamily = addresses;
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

    /// <summary>The most listed source addresses of one family (a destination is served by one family); 1 when the kernel chooses.</summary>
    public int SourcesPerFamily { get; }

    /// <summary>The source prefixes the pool would take addresses from: those start-up validation can count (an empty, IPv4-mapped or too small network it refuses outright).</summary>
    public IReadOnlyList<IPNetwork> Prefixes { get; }

    /// <summary>
    /// The most source addresses of one family, listed and of prefixes together: each has a tuple of
    /// its own to a destination. The listed count alone (or 1 when the kernel chooses) without prefixes.
    /// </summary>
    public UInt128 AddressesPerFamily { get; }

    /// <summary>The addresses all <see cref="Prefixes"/> lend together (saturating).</summary>
    public UInt128 PrefixAddressCount => Prefixes.Aggregate(UInt128.Zero, static (sum, p) => SaturatingAdd(sum, PrefixAddresses.UsableCount(p)));

    /// <summary>The tuples' ports to one destination: every address's tuple full (saturating; an IPv6 /64 holds 2^64 addresses).</summary>
    public UInt128 TupleSpacePerDestination => AddressesPerFamily > UInt128.MaxValue / (uint)Math.Max(1, CapacityPerTuple)
        ? UInt128.MaxValue
        : AddressesPerFamily * (uint)Math.Max(0, CapacityPerTuple);

    public string Description => IsConfigured ? "as configured" : "with default options";

    /// <summary>Sockets one destination can take: every source's tuple full, or MaxConnectionsPerDestination.</summary>
    public long MaxSocketsPerDestination => (long)UInt128.Min(TupleSpacePerDestination, (ulong)Math.Max(0, Options.MaxConnectionsPerDestination));

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
        var prefixes = (options.SourcePrefixes ?? []).Where(IsCountable).ToList();
        var addresses = prefixes.Count == 0
            ? (UInt128)Math.Max(1, sources)
            : UInt128.Max(AddressesOf(AddressFamily.InterNetwork), AddressesOf(AddressFamily.InterNetworkV6));
        return new PoolPlan(options, configured is not null, range, capacity, Math.Max(1, sources), prefixes, addresses);

        UInt128 AddressesOf(AddressFamily family)
        {
            UInt128 count = (uint)options.SourceAddresses.Count(a => a.AddressFamily == family);
            foreach (var prefix in prefixes.Where(p => p.BaseAddress.AddressFamily == family))
            {
                count = SaturatingAdd(count, PrefixAddresses.UsableCount(prefix));
            }

            return count;
        }
    }

    /// <summary>A prefix whose addresses can be counted: not empty, not IPv4-mapped, large enough to be one.</summary>
    public static bool IsCountable(IPNetwork network)
        => network != default
            && !network.BaseAddress.IsIPv4MappedToIPv6
            && PrefixAddresses.UsableCount(network) >= PrefixAddresses.MinUsable;

    private static UInt128 SaturatingAdd(UInt128 a, UInt128 b) => a > UInt128.MaxValue - b ? UInt128.MaxValue : a + b;

    public string SustainedRate() => F($"about {RateText(CapacityPerTuple)} new connections/s per tuple, {RateText((long)SourcesPerFamily * CapacityPerTuple)} per destination");
}
