using System.Globalization;
using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Options;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>A TuplePool configuration against this host: its sources, its slice, its capacity per tuple.</summary>
internal static class ConfigCheck
{
    public static IEnumerable<Finding> Run(HostFacts facts, LoadedConfig config, PoolPlan plan)
    {
        var options = config.Options;
        yield return new Finding("config", Verdict.Ok, F($"{config.File}, section {config.Section}: {config.Settings} settings"));
        foreach (var error in config.BindErrors)
        {
            yield return new Finding("config value", Verdict.Fail, error);
        }

        // The library's start-up validation against this host's kernel facts; sources and source
        // prefixes are probed below, one line each, rather than once more inside the validator.
        var failures = TuplePoolOptionsValidator.Validate(options, () => facts.Kernel, static _ => null, static _ => null);
        foreach (var failure in failures)
        {
            if (!config.BindErrors.Contains(failure))
            {
                yield return new Finding("option", Verdict.Fail, failure, "The pool would refuse to start with this.");
            }
        }

        if (options.SourceAddresses.Count == 0)
        {
            yield return plan.Prefixes.Count == 0
                ? new Finding("sources", Verdict.Ok, "none configured: the kernel chooses the source address (one per family)")
                : SourcePrefixCheck.SourcesLine(options);
        }

        var probes = options.SourceAddresses.Select(static a => (Address: a, Problem: SourceAddressProbe.TryBind(a))).ToList();
        foreach (var (address, problem) in probes)
        {
            var others = probes.Count(p => p.Problem is null && p.Address.AddressFamily == address.AddressFamily);
            yield return problem is null
                ? new Finding("source", Verdict.Ok, F($"{address}: assigned to this host (bind probe)"))
                : new Finding(
                    "source",
                    Verdict.Fail,
                    F($"{address} {problem}"),
                    others > 0
                        ? F($"The pool refuses to start with it (start-up validation); a pool built without that check quarantines it and the {others} other source(s) of its family carry the load.")
                        : "No other source of its family can be bound: connections of that family would all fail.");
        }

        foreach (var prefix in SourcePrefixCheck.Run(facts, options, failures))
        {
            yield return prefix;
        }

        yield return Slice(facts, options.LocalPortRange);
        yield return plan.Prefixes.Count == 0 ? Capacity(plan) : PrefixCapacity(facts, plan);
    }

    private static Finding Slice(HostFacts facts, PortRange? slice)
    {
        var system = facts.Kernel.PortRange;
        if (slice is not { } s)
        {
            return new Finding("port slice", Verdict.Ok, F($"LocalPortRange not set: the pool uses the system range {system}"));
        }

        var data = new JsonObject { ["first"] = s.First, ["last"] = s.Last, ["ports"] = s.Count, ["systemFirst"] = system.First, ["systemLast"] = system.Last };
        if (!s.IsValid)
        {
            return new Finding("port slice", Verdict.Fail, F($"{s.First}-{s.Last} is not a port range"), null, data);
        }

        if (!system.Contains(s.First) || !system.Contains(s.Last))
        {
            return new Finding("port slice", Verdict.Fail, F($"{s} is not inside the system range {system}"), "The kernel ignores the part outside the system range, so the budget would count ports it cannot use. Pick a slice inside it.", data);
        }

        var reserved = facts.Kernel.CountReservedIn(s);
        var listeners = facts.ListenersInRange.Where(l => !l.IsReserved && s.Contains(l.Port)).Select(static l => l.Port).ToList();
        var summary = F($"{s}: {N(s.Count)} ports, {Percent(s.Count, system.Count)} of the system range {system}, {N(reserved)} reserved");
        if (!facts.Kernel.SupportsLocalPortRange)
        {
            return new Finding("port slice", Verdict.Warn, summary, "This kernel has no IP_LOCAL_PORT_RANGE (Linux 6.3): sockets take ports from the whole system range while the budget counts the slice.", data);
        }

        if (listeners.Count > 0)
        {
            return new Finding("port slice", Verdict.Warn, summary + F($", listeners on {string.Join(", ", listeners)}"), "The pool's budget does not know these listeners: it counts their ports as free, and the kernel refuses them (EADDRNOTAVAIL before the budget says full).", data);
        }

        return new Finding("port slice", Verdict.Ok, summary, null, data);
    }

    private static Finding Capacity(PoolPlan plan)
    {
        var data = new JsonObject
        {
            ["capacityPerTuple"] = plan.CapacityPerTuple,
            ["sourcesPerFamily"] = plan.SourcesPerFamily,
            ["perDestination"] = plan.MaxSocketsPerDestination,
        };
        var summary = F($"{N(plan.CapacityPerTuple)} per tuple x {plan.SourcesPerFamily} source(s) = {N((long)plan.CapacityPerTuple * plan.SourcesPerFamily)} to one destination");
        return plan.CapacityPerTuple < 1
            ? new Finding("pool capacity", Verdict.Fail, summary, "No port left for the pool: every acquire would fail.", data)
            : new Finding("pool capacity", Verdict.Ok, summary, char.ToUpperInvariant(plan.SustainedRate()[0]) + plan.SustainedRate()[1..] + F($" (capacity / {PortRangeCheck.TimeWaitSeconds} s of TIME_WAIT)."), data);
    }

    /// <summary>
    /// The capacity with source prefixes: every address of a prefix has a tuple of its own to a
    /// destination, so the tuples seldom bound the connections; what does is said instead
    /// (MaxConnectionsPerDestination, the open-file limit), and that the ledger follows only the
    /// addresses in use.
    /// </summary>
    private static Finding PrefixCapacity(HostFacts facts, PoolPlan plan)
    {
        var tuples = plan.TupleSpacePerDestination;
        var maxConnections = plan.Options.MaxConnectionsPerDestination;
        var openFiles = OpenFileLimit.Read(facts.Tree)?.Soft;

        // The first bound below the tuple space, if any: the pool's own cap, or the files this process may open.
        var bounds = new List<(long Value, string Name)>();
        if ((ulong)Math.Max(0, maxConnections) < tuples)
        {
            bounds.Add((maxConnections, F($"MaxConnectionsPerDestination ({N(maxConnections)})")));
        }

        if (openFiles is { } soft && (ulong)Math.Max(0, soft) < tuples)
        {
            bounds.Add((soft, F($"the open-file limit ({N(soft)})")));
        }

        var first = bounds.Count == 0 ? default : bounds.MinBy(static b => b.Value);
        var data = new JsonObject
        {
            ["capacityPerTuple"] = plan.CapacityPerTuple,
            ["sourcesPerFamily"] = plan.SourcesPerFamily,
            ["prefixes"] = plan.Prefixes.Count,
            ["sourceAddressesPerFamily"] = plan.AddressesPerFamily.ToString(CultureInfo.InvariantCulture),
            ["tupleSpacePerDestination"] = tuples.ToString(CultureInfo.InvariantCulture),
            ["perDestination"] = plan.MaxSocketsPerDestination,
            ["tupleSpaceIsTheLimit"] = bounds.Count == 0,
        };
        var summary = F($"{N(plan.CapacityPerTuple)} per tuple x {SourcePrefixCheck.Count(plan.AddressesPerFamily)} source addresses of one family = {SourcePrefixCheck.Count(tuples)} to one destination")
            + (bounds.Count == 0 ? string.Empty : F($": the tuple space is not the limit, {first.Name} is"));
        if (plan.CapacityPerTuple < 1)
        {
            return new Finding("pool capacity", Verdict.Fail, summary, "No port left for the pool: every acquire would fail.", data);
        }

        var advice = F($"Each new connection takes an address of a prefix whose tuple to the destination has room, and the ledger follows only the addresses in use (open, or charged TIME_WAIT), not all {SourcePrefixCheck.Count(plan.PrefixAddressCount)} the prefixes lend: memory follows the connections, not the prefixes' size. About {RateText(plan.CapacityPerTuple)} new connections/s per tuple (capacity / {PortRangeCheck.TimeWaitSeconds} s of TIME_WAIT), and a TIME_WAIT holds a port of one address only.");
        if (plan.Options.Nat is not null)
        {
            advice += " Behind the NAT (Nat) each destination still has Nat.PortsPerDestination ports per NAT address: a source prefix does not widen that.";
        }

        return new Finding("pool capacity", Verdict.Ok, summary, advice, data);
    }
}
