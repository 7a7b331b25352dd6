using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using TuplePool.Doctor.Report;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>What the command line asks of the NAT: the destinations to judge, and a rate to predict the waiting for.</summary>
/// <param name="Destinations">From <c>--destination</c>; empty: each of <c>Nat.Destinations</c>.</param>
/// <param name="Rate">New connections/s to one destination (<c>--rate</c>); null: only the sustainable rate is reported.</param>
/// <param name="Concurrent">Connections open at once to that destination (<c>--concurrent</c>).</param>
internal sealed record NatQuestion(IReadOnlyList<IPEndPoint> Destinations, double? Rate, int Concurrent)
{
    public static readonly NatQuestion None = new([], null, 0);
}

/// <summary>
/// The configured <see cref="NatOptions"/>, per destination: the sustainable rate of new
/// connections through the NAT (<c>PortsPerDestination ÷ HoldAfterClose</c>: every closed
/// connection keeps its NAT port that long) and, for a given rate, the ports it needs
/// (<c>rate × HoldAfterClose + concurrent</c>) and the waiting the pool's NAT ledger turns the
/// shortfall into.
/// </summary>
internal static class NatCheck
{
    public static IEnumerable<Finding> Run(TuplePoolOptions options, NatQuestion question)
    {
        if (options.Nat is not { } nat)
        {
            yield return question.Rate is null && question.Destinations.Count == 0
                ? new Finding("nat", Verdict.Ok, "Nat not set: no NAT budget", "Set TuplePool:Nat when a NAT is on the path (a cloud NAT gateway, a load balancer's SNAT, a Kubernetes node's masquerade): without it a NAT that runs out drops the SYN and connects time out.")
                : new Finding("nat", Verdict.Warn, "Nat not set: --rate and --destination have no NAT to judge", "Add a Nat section (PortsPerDestination, HoldAfterClose) to the configuration.");
            yield break;
        }

        if (nat.PortsPerDestination < 1)
        {
            // The option line above already fails it; a rate of ports / 0 would say nothing.
            yield break;
        }

        yield return Idle(nat, options.KeepAlive);
        if (question.Destinations.Count == 0)
        {
            var networks = nat.Destinations ?? [];
            if (networks.Count == 0)
            {
                yield return Judge("nat (every non-loopback destination)", nat, options, question);
            }

            foreach (var network in networks)
            {
                yield return Judge("nat " + network, nat, options, question);
            }

            yield break;
        }

        foreach (var destination in question.Destinations)
        {
            var check = "nat " + destination;
            yield return Crosses(nat, destination.Address)
                ? Judge(check, nat, options, question)
                : new Finding(check, Verdict.Ok, "not behind the NAT (outside Nat.Destinations" + (nat.Destinations is { Count: 0 } ? ": a loopback address" : string.Empty) + ")", "The pool charges only its local tuples for it.");
        }
    }

    /// <summary>The NAT forgets a quiet flow after its idle timeout: keepalive probes keep it, or the pool stops lending such a connection.</summary>
    private static Finding Idle(NatOptions nat, TcpKeepAlive? keepAlive)
    {
        const string Check = "nat idle timeout";
        if (nat.IdleTimeout == Timeout.InfiniteTimeSpan)
        {
            return new Finding(Check, Verdict.Ok, "Nat.IdleTimeout infinite: idle connections are lent however long they were quiet", "Right only for a NAT that never forgets a flow.");
        }

        var idle = Seconds(nat.IdleTimeout.TotalSeconds);
        if (keepAlive is null)
        {
            return new Finding(Check, Verdict.Ok, F($"{idle}, no KeepAlive: an idle connection quiet longer is closed, not lent"), "Turn on KeepAlive with Time below this when idle connections should outlive quiet periods.");
        }

        return keepAlive.Time < nat.IdleTimeout
            ? new Finding(Check, Verdict.Ok, F($"{idle}, KeepAlive.Time {Seconds(keepAlive.Time.TotalSeconds)}: probes keep idle flows alive on the NAT"))
            : new Finding(Check, Verdict.Warn, F($"{idle}, KeepAlive.Time {Seconds(keepAlive.Time.TotalSeconds)}: the first probe comes after the NAT forgot the flow"), "Set KeepAlive.Time below Nat.IdleTimeout, or the probes find a flow the NAT already dropped.");
    }

    /// <summary>The same rule as the pool's: listed networks, or every non-loopback address when none are listed.</summary>
    private static bool Crosses(NatOptions nat, IPAddress address)
    {
        var networks = nat.Destinations ?? [];
        return networks.Count == 0 ? !IPAddress.IsLoopback(address) : networks.Any(n => n.Contains(address));
    }

    private static Finding Judge(string check, NatOptions nat, TuplePoolOptions options, NatQuestion question)
    {
        var ports = nat.PortsPerDestination;
        var hold = nat.HoldAfterClose.TotalSeconds;
        var data = new JsonObject
        {
            ["portsPerDestination"] = ports,
            ["holdAfterCloseSeconds"] = hold,
            ["holdAfterResetSeconds"] = nat.HoldAfterReset.TotalSeconds,
        };
        var sustainable = hold > 0 ? ports / hold : double.PositiveInfinity;
        data["sustainableNewConnectionsPerSecond"] = hold > 0 ? Math.Round(sustainable, 1) : null;
        var summary = hold > 0
            ? F($"{N(ports)} ports / {Seconds(hold)} held after a close = about {PerSecond(sustainable)} new connections/s to one destination IP and port")
            : F($"{N(ports)} ports, none held after a close: only connections open at once are limited");
        const string Fleet = " With a fleet budget (TuplePool.Redis) PortsPerDestination is the whole fleet's, and so is this rate.";
        if (question.Rate is not { } rate)
        {
            return new Finding(check, Verdict.Ok, summary, "Every connection closed with FIN keeps its NAT port for HoldAfterClose, so that is the most a steady stream of new connections gets; past it callers wait (TupleBudgetExhaustedException after AcquireTimeout), never a SYN the NAT drops." + Fleet, data);
        }

        var concurrent = question.Concurrent;
        // Rounded first: 1.1 x 100 is 110.00000000000001 in binary, one port too many after Ceiling.
        var needed = (long)Math.Ceiling(Math.Round(rate * hold, 6)) + concurrent;
        data["rate"] = rate;
        data["concurrent"] = concurrent;
        data["portsNeeded"] = needed;
        summary += F($"; at {PerSecond(rate)}/s with {N(concurrent)} open: {N(needed)} ports needed ({PerSecond(rate)} x {Seconds(hold)} + {N(concurrent)}), {Percent(needed, ports)} of the NAT's");
        if (needed <= ports)
        {
            data["waitingShare"] = 0;
            return new Finding(check, Verdict.Ok, summary + ": no waiting", "Headroom for bursts: " + N(ports - needed) + " ports." + Fleet, data);
        }

        var wait = options.AcquireTimeout == Timeout.InfiniteTimeSpan ? "without end (AcquireTimeout is infinite)" : F($"up to AcquireTimeout ({Seconds(options.AcquireTimeout.TotalSeconds)})");
        if (concurrent >= ports)
        {
            data["waitingShare"] = 1;
            return new Finding(check, Verdict.Fail, summary + ": the connections open at once alone fill the NAT", F($"Callers past the first {N(ports)} open connections wait {wait} for one to close; the rest get TupleBudgetExhaustedException naming the NAT. Raise PortsPerDestination (more NAT addresses) or hold fewer connections open."), data);
        }

        // Once the ports are gone (after (ports - concurrent) / rate seconds from a standing start),
        // only the ports that come back after their hold are lent again: (ports - concurrent) / hold
        // per second. Every caller past that waits in line and, the line growing, is served or times out.
        var served = hold > 0 ? (ports - concurrent) / hold : rate;
        var share = Math.Max(0, 1 - (served / rate));
        var fill = (ports - concurrent) / rate;
        data["servedPerSecond"] = Math.Round(served, 1);
        data["waitingShare"] = Math.Round(share, 3);
        data["secondsUntilFull"] = Math.Round(fill, 1);
        return new Finding(
            check,
            Verdict.Fail,
            summary + F($": callers wait, about {Percent((long)Math.Round(share * 1000), 1000)} of them in vain"),
            F($"From a standing start the NAT's ports run out after {Seconds(fill)}; from then about {PerSecond(served)}/s get a port (as closed ones come back after {Seconds(hold)}) and callers queue {wait}, those past it getting TupleBudgetExhaustedException naming the NAT. Without Nat set the NAT would drop their SYNs instead. Pool connections (an idle hit needs no new port), lower the rate, or get more NAT ports (HoldAfterClose is the NAT's, not yours to shorten).") + Fleet,
            data);
    }

    private static string PerSecond(double rate) => rate.ToString("#,0.#", CultureInfo.InvariantCulture);

    private static string Seconds(double seconds) => seconds.ToString("#,0.###", CultureInfo.InvariantCulture) + " s";
}
