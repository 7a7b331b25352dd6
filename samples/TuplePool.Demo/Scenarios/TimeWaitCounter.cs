using System.Globalization;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Counts TIME_WAIT entries from /proc/net/tcp (what <c>ss -tan state time-wait</c> shows) whose
/// local port is in a range and whose remote port is one server's.
/// </summary>
internal static class TimeWaitCounter
{
    private const string TimeWaitState = "06";

    public static int? Count(PortRange localPorts, int remotePort)
    {
        try
        {
            var count = 0;
            foreach (var line in File.ReadLines("/proc/net/tcp").Skip(1))
            {
                // "  12: 0100007F:C350 0100007F:3E80 06 ..." — sl, local, remote, state
                var fields = line.Split(' ', 5, StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 4 || fields[3] != TimeWaitState)
                {
                    continue;
                }

                if (Port(fields[1]) is { } local && localPorts.Contains(local) && Port(fields[2]) == remotePort)
                {
                    count++;
                }
            }

            return count;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static int? Port(string endPoint)
    {
        var colon = endPoint.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 && int.TryParse(endPoint.AsSpan(colon + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var port) ? port : null;
    }
}
