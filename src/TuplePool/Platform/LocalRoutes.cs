using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>
/// Whether this machine serves a whole IPv6 network itself: a route of type <c>local</c> covers it
/// (<c>ip -6 route add local 2001:db8:1::/64 dev lo</c>, AnyIP). Read from
/// <c>/proc/net/ipv6_route</c>, which lists every table's routes: destination (32 hex digits),
/// prefix length (hex), source, source length, next hop, metric, reference count, use, flags
/// (hex; <c>RTF_LOCAL</c> is 0x80000000) and device. An IPv6 bind cannot tell: it accepts only
/// assigned addresses without <c>IP_FREEBIND</c>, and with it any address at all. (IPv4 needs no
/// such look: its bind accepts an address of a local route.)
/// </summary>
internal static class LocalRoutes
{
    public const string Ipv6RouteFile = "/proc/net/ipv6_route";

    private const uint RtfLocal = 0x80000000;

    /// <summary>True when a local route covers all of <paramref name="network"/>; null when the table cannot be read.</summary>
    public static bool? CoversIPv6(IPNetwork network, IProcFileSystem proc)
    {
        if (network.BaseAddress.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return false;
        }

        if (proc.TryReadAllText(Ipv6RouteFile) is not { } table)
        {
            return null;
        }

        Span<byte> bytes = stackalloc byte[16];
        foreach (var line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 10
                || fields[0].Length != 32
                || !int.TryParse(fields[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var length)
                || !uint.TryParse(fields[8], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var flags)
                || (flags & RtfLocal) == 0
                || length > network.PrefixLength)
            {
                continue;
            }

            if (!TryParseHex(fields[0], bytes))
            {
                continue;
            }

            if (new IPNetwork(new IPAddress(bytes), length).Contains(network.BaseAddress))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>32 hex digits into 16 bytes (net8.0 has no span overload of <see cref="Convert.FromHexString(string)"/>).</summary>
    private static bool TryParseHex(string hex, Span<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            if (!byte.TryParse(hex.AsSpan(2 * i, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out bytes[i]))
            {
                return false;
            }
        }

        return true;
    }
}
