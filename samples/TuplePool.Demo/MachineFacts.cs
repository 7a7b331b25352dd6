using System.Globalization;

namespace TuplePool.Demo;

/// <summary>What the demo needs to know about this machine, read once from /proc.</summary>
internal sealed record MachineFacts(Version Kernel, PortRange EphemeralRange, int TcpTwReuse, int OpenFileLimit)
{
    /// <summary>Linux 6.8 stops the even/odd port search for sockets that set IP_LOCAL_PORT_RANGE.</summary>
    public bool RangeOptionSkipsParitySearch => Kernel >= new Version(6, 8);

    public static MachineFacts Read() => new(
        Environment.OSVersion.Version,
        PortRange.ReadSystem(),
        ReadInt("/proc/sys/net/ipv4/tcp_tw_reuse") ?? -1,
        ReadOpenFileLimit() ?? 1024);

    public string Describe() => string.Create(
        CultureInfo.InvariantCulture,
        $"Linux {Kernel}, {Environment.ProcessorCount} cores, .NET {Environment.Version}, ephemeral ports {EphemeralRange} ({EphemeralRange.Count:N0}), "
        + $"tcp_tw_reuse={(TcpTwReuse < 0 ? "?" : TcpTwReuse.ToString(CultureInfo.InvariantCulture))}, open-file limit {OpenFileLimit:N0}");

    private static int? ReadInt(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // "Max open files            20000                20000                files"
    private static int? ReadOpenFileLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return int.TryParse(fields[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out var soft) ? soft : null;
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }

        return null;
    }
}
