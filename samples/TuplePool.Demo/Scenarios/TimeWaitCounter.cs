using System.Globalization;
using System.Net;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Counts TIME_WAIT entries from /proc/net/tcp (what <c>ss -tan state time-wait</c> shows) whose
/// local port is in a range and whose remote port is one server's; optionally only those whose
/// local address is one of a set (plain sockets and the pool use different sources).
/// </summary>
internal static class TimeWaitCounter
{
    private const string TimeWaitState = "06";

    public static int? Count(PortRange localPorts, int remotePort, IReadOnlyCollection<IPAddress>? localAddresses = null)
    {
        // /proc/net/tcp prints an IPv4 address as its 32 bits in host order, in hex.
        var hexAddresses = localAddresses?
            .Select(a => BitConverter.ToUInt32(a.GetAddressBytes()).ToString("X8", CultureInfo.InvariantCulture))
            .ToHashSet(StringComparer.Ordinal);
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

                if (Port(fields[1]) is { } local && localPorts.Contains(local) && Port(fields[2]) == remotePort
                    && (hexAddresses is null || hexAddresses.Contains(fields[1][..fields[1].IndexOf(':', StringComparison.Ordinal)])))
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
