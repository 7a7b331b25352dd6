using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>
/// The connection-tracking table, where <c>nf_conntrack</c> is loaded: every connection,
/// TIME_WAIT included, holds an entry, and a full table drops new connections' packets.
/// </summary>
internal static class ConntrackCheck
{
    public const double WarnShare = 0.75;
    public const double FailShare = 0.95;

    public static Finding Run(HostFacts facts)
    {
        var count = SysctlReader.TryReadLong(facts.Tree, SysctlReader.ConntrackCountPath, out var used, out _);
        var max = SysctlReader.TryReadLong(facts.Tree, SysctlReader.ConntrackMaxPath, out var limit, out _);
        if (count == SysctlReader.Outcome.Missing && max == SysctlReader.Outcome.Missing)
        {
            return new Finding("conntrack", Verdict.Ok, "nf_conntrack not loaded", "No connection-tracking table to fill.");
        }

        if (count != SysctlReader.Outcome.Read || max != SysctlReader.Outcome.Read || limit <= 0)
        {
            return new Finding("conntrack", Verdict.Warn, F($"{SysctlReader.ConntrackCountPath} or {SysctlReader.ConntrackMaxPath} not readable as a number"), "Conntrack usage is unknown.");
        }

        var data = new JsonObject { ["count"] = used, ["max"] = limit };
        var summary = F($"{N(used)} of {N(limit)} entries ({Percent(used, limit)})");
        const string Full = "When the table is full the kernel drops packets of new connections (\"nf_conntrack: table full, dropping packet\"). Raise net.netfilter.nf_conntrack_max, or shorten nf_conntrack_tcp_timeout_time_wait.";
        if (used >= limit * FailShare)
        {
            return new Finding("conntrack", Verdict.Fail, summary, Full, data);
        }

        return used >= limit * WarnShare
            ? new Finding("conntrack", Verdict.Warn, summary, Full, data)
            : new Finding("conntrack", Verdict.Ok, summary, "Every connection, TIME_WAIT included, holds an entry.", data);
    }

    /// <summary>
    /// Conntrack's TCP timeouts, where it is loaded: when this host is the NAT (a Kubernetes
    /// node's or a Docker host's masquerade), they are how long it keeps a port after a FIN
    /// (<c>time_wait</c>), after an RST (<c>close</c>) and for a quiet open flow
    /// (<c>established</c>): the figures <see cref="NatOptions"/> must not undercut.
    /// </summary>
    /// <param name="facts">The host.</param>
    /// <param name="nat">The configured NAT, to compare with; null without a configuration or without Nat.</param>
    public static Finding? Timeouts(HostFacts facts, NatOptions? nat)
    {
        var timeWait = SysctlReader.TryReadLong(facts.Tree, SysctlReader.ConntrackTimeWaitPath, out var timeWaitSeconds, out _);
        var close = SysctlReader.TryReadLong(facts.Tree, SysctlReader.ConntrackClosePath, out var closeSeconds, out _);
        var established = SysctlReader.TryReadLong(facts.Tree, SysctlReader.ConntrackEstablishedPath, out var establishedSeconds, out _);
        if (timeWait == SysctlReader.Outcome.Missing && close == SysctlReader.Outcome.Missing && established == SysctlReader.Outcome.Missing)
        {
            // No conntrack (or its TCP part not loaded): this host is no NAT.
            return null;
        }

        if (timeWait != SysctlReader.Outcome.Read || close != SysctlReader.Outcome.Read || established != SysctlReader.Outcome.Read)
        {
            return new Finding("conntrack timeouts", Verdict.Warn, "nf_conntrack_tcp_timeout_{time_wait,close,established} not all readable as numbers", "How long this host, as a NAT, keeps a port is unknown.");
        }

        var data = new JsonObject { ["timeWaitSeconds"] = timeWaitSeconds, ["closeSeconds"] = closeSeconds, ["establishedSeconds"] = establishedSeconds };
        var summary = F($"time_wait {N(timeWaitSeconds)} s, close {N(closeSeconds)} s, established {N(establishedSeconds)} s");
        const string WhenNat = "When this host is the NAT (a masquerade rule: a Kubernetes node, a Docker host), it keeps a port that long after a FIN, after an RST, and for a quiet open flow; set Nat.HoldAfterClose, Nat.HoldAfterReset and Nat.IdleTimeout of the pools behind it from these.";
        if (nat is null)
        {
            return new Finding("conntrack timeouts", Verdict.Ok, summary, WhenNat, data);
        }

        var shorter = new List<string>();
        if (nat.HoldAfterClose.TotalSeconds < timeWaitSeconds)
        {
            shorter.Add(F($"Nat.HoldAfterClose {nat.HoldAfterClose.TotalSeconds:0.###} s < time_wait {timeWaitSeconds} s"));
        }

        if (nat.HoldAfterReset.TotalSeconds < closeSeconds)
        {
            shorter.Add(F($"Nat.HoldAfterReset {nat.HoldAfterReset.TotalSeconds:0.###} s < close {closeSeconds} s"));
        }

        if (nat.IdleTimeout != Timeout.InfiniteTimeSpan && nat.IdleTimeout.TotalSeconds > establishedSeconds)
        {
            shorter.Add(F($"Nat.IdleTimeout {nat.IdleTimeout.TotalSeconds:0.###} s > established {establishedSeconds} s"));
        }

        data["natShorterThanConntrack"] = new JsonArray([.. shorter.Select(static s => JsonValue.Create(s))]);
        return shorter.Count == 0
            ? new Finding("conntrack timeouts", Verdict.Ok, summary + "; the configured Nat holds are no shorter", WhenNat, data)
            : new Finding("conntrack timeouts", Verdict.Warn, summary + "; " + string.Join(", ", shorter), "If this host is the NAT of the configured pool, the pool counts a port free (or a quiet connection alive) before conntrack does: the NAT may drop SYNs the budget let through. " + WhenNat, data);
    }
}
