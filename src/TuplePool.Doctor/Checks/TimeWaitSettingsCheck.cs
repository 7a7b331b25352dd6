using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>
/// The TIME_WAIT-related sysctls, each said for what it really does: <c>tcp_tw_reuse</c> (and
/// the timestamps it needs), <c>tcp_fin_timeout</c> (FIN_WAIT_2, not TIME_WAIT) and
/// <c>tcp_tw_recycle</c> (removed in Linux 4.12).
/// </summary>
internal static class TimeWaitSettingsCheck
{
    private static readonly Version TwRecycleRemoved = new(4, 12);

    public static IEnumerable<Finding> Run(HostFacts facts)
    {
        var tree = facts.Tree;
        var timestamps = SysctlReader.TryReadLong(tree, SysctlReader.TcpTimestampsPath, out var tsValue, out var tsText);
        var timestampsOff = timestamps == SysctlReader.Outcome.Read && tsValue == 0;
        yield return TwReuse(facts, timestampsOff);
        yield return Timestamps(timestamps, tsValue, tsText);
        yield return FinTimeout(tree);
        yield return TwRecycle(facts);
    }

    private static Finding TwReuse(HostFacts facts, bool timestampsOff)
    {
        var kernel = facts.Kernel;
        var delay = F($"{kernel.TcpTwReuseDelay.TotalMilliseconds:0} ms");
        if (facts.Tree.TryReadAllText(KernelSettings.TcpTwReusePath) is null || PortRangeCheck.FallbackFor(kernel, KernelSettings.TcpTwReusePath) is not null)
        {
            return new Finding("tcp_tw_reuse", Verdict.Warn, "not read: the Linux default 2 (loopback only) is assumed", PortRangeCheck.FallbackText(kernel, KernelSettings.TcpTwReusePath));
        }

        var data = new JsonObject { ["value"] = kernel.TcpTwReuse, ["reuseDelayMs"] = kernel.TcpTwReuseDelay.TotalMilliseconds };
        var needsTimestamps = timestampsOff
            ? " But tcp_timestamps is 0, and reuse only works with timestamps: in effect it is off."
            : string.Empty;
        return kernel.TcpTwReuse switch
        {
            0 => new Finding(
                "tcp_tw_reuse",
                Verdict.Warn,
                "0 (off): a TIME_WAIT tuple is never taken over, loopback included",
                "Every port this host closed first stays unusable for 60 s. 2 (the default) reuses for loopback; 1 lets outgoing connections to any host take over a TIME_WAIT tuple after " + delay + " (it needs tcp_timestamps, which reject old duplicate segments).",
                data),
            1 => new Finding(
                "tcp_tw_reuse",
                timestampsOff ? Verdict.Warn : Verdict.Ok,
                "1 (on): a new outgoing connection may take over a TIME_WAIT tuple after " + delay,
                "Applies only to connections this host opens, to any destination; the TIME_WAIT length itself stays 60 s." + needsTimestamps,
                data),
            _ => new Finding(
                "tcp_tw_reuse",
                timestampsOff ? Verdict.Warn : Verdict.Ok,
                "2 (loopback only, the default): as 1 for loopback connections, as 0 for the rest",
                "To a remote host every port this host closed first stays in TIME_WAIT for 60 s; TuplePool's budget counts it so. Set 1 if clients churn connections to remote hosts; reusing connections helps more." + needsTimestamps,
                data),
        };
    }

    private static Finding Timestamps(SysctlReader.Outcome outcome, long value, string? text) => outcome switch
    {
        SysctlReader.Outcome.Missing => new Finding("tcp_timestamps", Verdict.Warn, F($"{SysctlReader.TcpTimestampsPath}: missing or not readable"), "tcp_tw_reuse needs timestamps; whether they are on is unknown."),
        SysctlReader.Outcome.Unparsable => new Finding("tcp_timestamps", Verdict.Warn, F($"{SysctlReader.TcpTimestampsPath}: '{text?.Trim()}' is not a number")),
        _ => value switch
        {
            0 => new Finding("tcp_timestamps", Verdict.Warn, "0 (off)", "tcp_tw_reuse cannot take over TIME_WAIT tuples without timestamps (they tell an old segment from a new one), and PAWS is off. Set 1 (the default)."),
            2 => new Finding("tcp_timestamps", Verdict.Ok, "2 (on, without per-connection random offsets)", "tcp_tw_reuse can work."),
            _ => new Finding("tcp_timestamps", Verdict.Ok, F($"{value} (on, the default)"), "tcp_tw_reuse can work."),
        },
    };

    private static Finding FinTimeout(ProcTree tree)
    {
        const string Meaning = "How long an orphaned connection waits in FIN_WAIT_2 for the peer's FIN. It is not the TIME_WAIT length: TIME_WAIT is a fixed 60 s (TCP_TIMEWAIT_LEN) that no sysctl shortens, so lowering this frees no ports.";
        return SysctlReader.TryReadLong(tree, SysctlReader.TcpFinTimeoutPath, out var value, out var text) switch
        {
            SysctlReader.Outcome.Read => new Finding("tcp_fin_timeout", Verdict.Ok, F($"{value} s (FIN_WAIT_2 timeout)"), Meaning, new JsonObject { ["seconds"] = value }),
            SysctlReader.Outcome.Missing => new Finding("tcp_fin_timeout", Verdict.Warn, F($"{SysctlReader.TcpFinTimeoutPath}: missing or not readable"), Meaning),
            _ => new Finding("tcp_fin_timeout", Verdict.Warn, F($"{SysctlReader.TcpFinTimeoutPath}: '{text?.Trim()}' is not a number"), Meaning),
        };
    }

    private static Finding TwRecycle(HostFacts facts)
    {
        var outcome = SysctlReader.TryReadLong(facts.Tree, SysctlReader.TcpTwRecyclePath, out var value, out _);
        var version = facts.Kernel.KernelVersion;
        if (outcome == SysctlReader.Outcome.Read)
        {
            return value == 0
                ? new Finding("tcp_tw_recycle", Verdict.Ok, "0 (off)", "Leave it off: it was removed in Linux 4.12 because it drops connections from clients behind NAT.")
                : new Finding("tcp_tw_recycle", Verdict.Fail, F($"{value} (on)"), "It drops SYNs from clients behind NAT whose timestamps are not in order, and was removed in Linux 4.12 for that. Set 0; use tcp_tw_reuse for outgoing connections.");
        }

        if (outcome == SysctlReader.Outcome.Missing && version is not null && version >= TwRecycleRemoved)
        {
            return new Finding("tcp_tw_recycle", Verdict.Ok, F($"gone (removed in Linux 4.12; this is {version})"), "Nothing to set: advice to turn it on is out of date.");
        }

        return new Finding("tcp_tw_recycle", Verdict.Warn, "not readable, and the kernel version is unknown or older than 4.12", "If it exists, keep it 0.");
    }
}
