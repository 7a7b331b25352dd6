using System.Globalization;

namespace TuplePool.Doctor.Host;

/// <summary>Reads single-number sysctl files the library has no reader for (<c>tcp_timestamps</c>, <c>tcp_fin_timeout</c>, conntrack).</summary>
internal static class SysctlReader
{
    public const string TcpTimestampsPath = "/proc/sys/net/ipv4/tcp_timestamps";
    public const string TcpFinTimeoutPath = "/proc/sys/net/ipv4/tcp_fin_timeout";
    public const string TcpTwRecyclePath = "/proc/sys/net/ipv4/tcp_tw_recycle";
    public const string ConntrackCountPath = "/proc/sys/net/netfilter/nf_conntrack_count";
    public const string ConntrackMaxPath = "/proc/sys/net/netfilter/nf_conntrack_max";
    public const string ConntrackTimeWaitPath = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait";
    public const string ConntrackClosePath = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_close";
    public const string ConntrackEstablishedPath = "/proc/sys/net/netfilter/nf_conntrack_tcp_timeout_established";
    public const string SelfLimitsPath = "/proc/self/limits";

    /// <summary>What reading a one-number file gave.</summary>
    public enum Outcome
    {
        Read,
        Missing,
        Unparsable,
    }

    public static Outcome TryReadLong(ProcTree tree, string path, out long value, out string? text)
    {
        value = 0;
        text = tree.TryReadAllText(path);
        if (text is null)
        {
            return Outcome.Missing;
        }

        return long.TryParse(text.AsSpan().Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value)
            ? Outcome.Read
            : Outcome.Unparsable;
    }
}
