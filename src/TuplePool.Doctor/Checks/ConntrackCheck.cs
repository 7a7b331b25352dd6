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
}
