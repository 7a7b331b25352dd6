using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>
/// LISTEN sockets inside the ephemeral range. Linux keeps every port that a socket has bound
/// (a listener included) out of <c>connect()</c>'s port search on all addresses, so each such
/// listener takes its port out of every outgoing tuple of the machine.
/// </summary>
internal static class ListenerCheck
{
    public static IEnumerable<Finding> Run(HostFacts facts)
    {
        if (facts.Census == CensusBackend.Unavailable)
        {
            yield break; // The socket-table line already says nothing could be read.
        }

        var range = facts.Kernel.PortRange;
        if (facts.ListenersInRange.Count == 0)
        {
            yield return new Finding("listeners in range", Verdict.Ok, F($"no LISTEN socket inside {range}"));
            yield break;
        }

        var owners = ProcessOwners.Find(facts.Tree, facts.ListenersInRange.SelectMany(static l => l.Inodes).ToList());
        foreach (var listener in facts.ListenersInRange)
        {
            var processes = listener.Inodes
                .Select(i => owners.TryGetValue(i, out var owner) ? owner : (ProcessOwner?)null)
                .Where(static o => o is not null)
                .Select(static o => o!.Value)
                .Distinct()
                .ToList();
            var who = processes.Count == 0
                ? "process unknown (its /proc/PID/fd is not readable)"
                : string.Join(", ", processes.Select(static p => F($"pid {p.Pid} {p.Name}")));
            var addresses = string.Join(", ", listener.Addresses);
            var data = new JsonObject
            {
                ["port"] = listener.Port,
                ["addresses"] = new JsonArray([.. listener.Addresses.Select(static a => (JsonNode?)a.ToString())]),
                ["reserved"] = listener.IsReserved,
                ["processes"] = new JsonArray([.. processes.Select(static p => (JsonNode?)new JsonObject { ["pid"] = p.Pid, ["name"] = p.Name })]),
            };
            var summary = F($"port {listener.Port} on {addresses}: {who}");
            yield return listener.IsReserved
                ? new Finding("listener in range", Verdict.Ok, summary, "The port is in ip_local_reserved_ports, so it was out of automatic assignment anyway.", data)
                : new Finding(
                    "listener in range",
                    Verdict.Warn,
                    summary,
                    F($"No outgoing connection of this host can use port {listener.Port} (one port less per tuple), and a restart can find it taken by an outgoing connection. Move the listener below {range.First}, or add {listener.Port} to net.ipv4.ip_local_reserved_ports. A server on port 0 lands here too."),
                    data);
        }
    }
}
