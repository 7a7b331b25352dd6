using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>The ephemeral range, the reserved ports in it, and the capacity per tuple that leaves.</summary>
internal static class PortRangeCheck
{
    /// <summary>TIME_WAIT lasts a fixed 60 s (<c>TCP_TIMEWAIT_LEN</c>); no sysctl changes it.</summary>
    public const int TimeWaitSeconds = 60;

    public static IEnumerable<Finding> Run(HostFacts facts)
    {
        var kernel = facts.Kernel;
        var range = kernel.PortRange;
        var capacity = facts.CapacityPerTuple;
        var data = new JsonObject
        {
            ["first"] = range.First,
            ["last"] = range.Last,
            ["ports"] = range.Count,
            ["reservedInRange"] = facts.ReservedInRange,
            ["listenersInRange"] = facts.ListenersTakingPorts,
            ["capacityPerTuple"] = capacity,
            ["newConnectionsPerSecondPerTuple"] = Rate(capacity),
        };
        var summary = F($"{range}: {N(range.Count)} ports, {N(facts.ReservedInRange)} reserved, {N(facts.ListenersTakingPorts)} held by listeners -> {N(capacity)} per (source, destination, port)");
        var rate = F($"Each tuple sustains about {RateText(capacity)} new connections/s when this side closes first (TIME_WAIT keeps each port {TimeWaitSeconds} s); every extra source address adds as much again.");

        if (kernel.PortRangeIsFallback)
        {
            yield return new Finding("ephemeral range", Verdict.Warn, summary, FallbackText(kernel, KernelSettings.PortRangePath) + " " + rate, data);
        }
        else if (capacity < 1)
        {
            yield return new Finding("ephemeral range", Verdict.Fail, summary, "No port is left for outgoing connections: every connect() fails with EADDRNOTAVAIL. Shrink ip_local_reserved_ports or move listeners out of the range.", data);
        }
        else if (capacity < KernelSettings.DefaultPortRange.Count / 2)
        {
            yield return new Finding("ephemeral range", Verdict.Warn, summary, rate + F($" That is under half the Linux default ({N(KernelSettings.DefaultPortRange.Count)}); widen net.ipv4.ip_local_port_range, keeping it clear of the ports your services listen on."), data);
        }
        else
        {
            yield return new Finding("ephemeral range", Verdict.Ok, summary, rate, data);
        }

        if (facts.Tree.TryReadAllText(KernelSettings.ReservedPortsPath) is null || FallbackFor(kernel, KernelSettings.ReservedPortsPath) is not null)
        {
            yield return new Finding("reserved ports", Verdict.Warn, "not read: counted as none", FallbackText(kernel, KernelSettings.ReservedPortsPath));
        }
        else if (kernel.ReservedPorts.Count > 0)
        {
            var list = string.Join(",", kernel.ReservedPorts.Select(static r => r.First == r.Last ? F($"{r.First}") : r.ToString()));
            yield return new Finding(
                "reserved ports",
                Verdict.Ok,
                F($"{list}: {N(facts.ReservedInRange)} of them inside the range"),
                "Reserved ports are never picked for outgoing connections; each one inside the range is one port less per tuple.");
        }
        else
        {
            yield return new Finding("reserved ports", Verdict.Ok, "none (net.ipv4.ip_local_reserved_ports is empty)");
        }
    }

    /// <summary>The library's own sentence about a file it could not use, or a plain one.</summary>
    internal static string FallbackText(KernelSettings kernel, string path)
        => FallbackFor(kernel, path) ?? F($"{path}: missing or not readable; the Linux default is assumed.");

    internal static string? FallbackFor(KernelSettings kernel, string path)
        => kernel.Fallbacks.FirstOrDefault(f => f.StartsWith(path, StringComparison.Ordinal));
}
