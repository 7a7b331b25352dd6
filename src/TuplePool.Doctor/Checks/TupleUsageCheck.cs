using System.Net;
using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>How many ports each outgoing (source, destination, port) tuple holds right now, busiest first.</summary>
internal static class TupleUsageCheck
{
    /// <summary>Above this share of the capacity a tuple line warns.</summary>
    public const double WarnShare = 0.9;

    public static IEnumerable<Finding> Run(HostFacts facts, int top)
    {
        yield return CensusFinding(facts);
        foreach (var path in facts.UnreadableSocketFiles)
        {
            var what = path.EndsWith('6') ? "IPv6 sockets are not counted (no IPv6 on this host, or a restricted container)" : "IPv4 sockets are not counted; listeners and TIME_WAIT cannot be checked";
            yield return new Finding("socket table", Verdict.Warn, F($"{path}: missing or not readable"), what + ".");
        }

        if (facts.MalformedSocketLines > 0)
        {
            yield return new Finding("socket table", Verdict.Warn, F($"{facts.MalformedSocketLines} lines of /proc/net/tcp{{,6}} not understood and skipped"), "The counts below may be a little low.");
        }

        if (facts.Census == CensusBackend.Unavailable)
        {
            yield break;
        }

        var tuples = Group(facts);
        var capacity = facts.CapacityPerTuple;
        var established = tuples.Sum(static t => t.Established);
        var timeWait = tuples.Sum(static t => t.TimeWait);
        var rate = RateText(capacity);
        var totals = new JsonObject
        {
            ["tuples"] = tuples.Count,
            ["established"] = established,
            ["timeWait"] = timeWait,
            ["capacityPerTuple"] = capacity,
            ["newConnectionsPerSecondPerTuple"] = Rate(capacity),
        };
        if (tuples.Count == 0)
        {
            yield return new Finding("outgoing tuples", Verdict.Ok, F($"no outgoing connection with a port in {facts.Kernel.PortRange} right now"), null, totals);
            yield break;
        }

        var busiest = tuples[0];
        yield return new Finding(
            "outgoing tuples",
            Verdict.Ok,
            F($"{N(tuples.Count)} {(tuples.Count == 1 ? "tuple" : "tuples")}: {N(established)} established, {N(timeWait)} TIME_WAIT; busiest at {Percent(busiest.Used, capacity)} of {N(capacity)}"),
            F($"Per tuple: up to {N(capacity)} ports at once and about {rate} new connections/s (capacity / {PortRangeCheck.TimeWaitSeconds} s of TIME_WAIT)."),
            totals);

        foreach (var tuple in tuples.Take(top))
        {
            var headroom = Math.Max(0, capacity - tuple.Used);
            var data = new JsonObject
            {
                ["source"] = tuple.Source.ToString(),
                ["destination"] = tuple.Destination.Address.ToString(),
                ["port"] = tuple.Destination.Port,
                ["established"] = tuple.Established,
                ["timeWait"] = tuple.TimeWait,
                ["other"] = tuple.Other,
                ["used"] = tuple.Used,
                ["capacity"] = capacity,
                ["headroom"] = headroom,
                ["newConnectionsPerSecond"] = Rate(capacity),
            };
            var check = F($"tuple {tuple.Source} -> {Endpoint(tuple.Destination)}");
            var summary = F($"{N(tuple.Established)} established, {N(tuple.TimeWait)} TIME_WAIT, {N(tuple.Other)} other: {N(tuple.Used)} of {N(capacity)} ({Percent(tuple.Used, capacity)}), headroom {N(headroom)}");
            if (tuple.Used >= capacity)
            {
                yield return new Finding(check, Verdict.Fail, summary, "Full: the next connect() on this tuple fails with EADDRNOTAVAIL. Reuse connections (keep-alive, a pool), add source addresses, or close abortively where the protocol allows it.", data);
            }
            else if (tuple.Used > capacity * WarnShare)
            {
                yield return new Finding(check, Verdict.Warn, summary, F($"Above {WarnShare:P0} of the ports; at {rate} new connections/s it stays where it is, any faster and it fills."), data);
            }
            else
            {
                yield return new Finding(check, Verdict.Ok, summary, null, data);
            }
        }
    }

    private static string Endpoint(IPEndPoint endpoint) => endpoint.ToString();

    private static string Sockets(int count) => F($"{N(count)} {(count == 1 ? "socket" : "sockets")}");

    /// <summary>Where the sockets were read from, and what that means for the counts.</summary>
    private static Finding CensusFinding(HostFacts facts)
    {
        var data = new JsonObject
        {
            ["backend"] = CensusNames.Json(facts.Census),
            ["sockets"] = facts.Sockets.Count,
            ["duplicateLinesDropped"] = facts.DuplicateSocketLines,
            ["fallbackReason"] = facts.CensusFallbackReason,
        };
        return facts.Census switch
        {
            CensusBackend.SockDiag => new Finding(
                "socket census",
                Verdict.Ok,
                F($"{Sockets(facts.Sockets.Count)} through NETLINK_SOCK_DIAG (inet_diag, as ss reads them)"),
                "The kernel reports each socket once per dump; the tuple counts below are exact for the moment they were read.",
                data),
            CensusBackend.ProcNetTcp => new Finding(
                "socket census",
                Verdict.Ok,
                F($"{Sockets(facts.Sockets.Count)} from /proc/net/tcp{{,6}}, {N(facts.DuplicateSocketLines)} repeated {(facts.DuplicateSocketLines == 1 ? "line" : "lines")} dropped; {facts.CensusFallbackReason}"),
                "The kernel prints these files a page at a time and repeats or misses lines while sockets change; repeats are dropped, so the counts below can be a little low, never high.",
                data),
            _ => new Finding(
                "socket census",
                Verdict.Warn,
                F($"no socket table could be read ({facts.CensusFallbackReason})"),
                "Listeners, established and TIME_WAIT sockets cannot be checked.",
                data),
        };
    }

    /// <summary>
    /// Outgoing sockets only: a local port inside the ephemeral range that no listener owns
    /// (a socket a server accepted has the listener's port), grouped by the local port's tuple.
    /// </summary>
    private static List<TupleCount> Group(HostFacts facts)
    {
        var range = facts.Kernel.PortRange;
        var listening = facts.ListenersInRange.Select(static l => l.Port).ToHashSet();
        var counts = new Dictionary<(IPAddress Source, IPAddress Destination, int Port), TupleCount>();
        foreach (var entry in facts.Sockets)
        {
            if (entry.State == TcpState.Listen || !range.Contains(entry.LocalPort) || listening.Contains(entry.LocalPort))
            {
                continue;
            }

            var key = (entry.LocalAddress, entry.RemoteAddress, entry.RemotePort);
            if (!counts.TryGetValue(key, out var count))
            {
                count = new TupleCount(entry.LocalAddress, new IPEndPoint(entry.RemoteAddress, entry.RemotePort));
                counts[key] = count;
            }

            switch (entry.State)
            {
                case TcpState.Established:
                    count.Established++;
                    break;
                case TcpState.TimeWait:
                    count.TimeWait++;
                    break;
                default:
                    count.Other++;
                    break;
            }
        }

        return counts.Values
            .OrderByDescending(static c => c.Used)
            .ThenBy(static c => c.Source.ToString(), StringComparer.Ordinal)
            .ThenBy(static c => c.Destination.ToString(), StringComparer.Ordinal)
            .ToList();
    }

    private sealed class TupleCount(IPAddress source, IPEndPoint destination)
    {
        public IPAddress Source { get; } = source;

        public IPEndPoint Destination { get; } = destination;

        public int Established { get; set; }

        public int TimeWait { get; set; }

        public int Other { get; set; }

        public int Used => Established + TimeWait + Other;
    }
}
