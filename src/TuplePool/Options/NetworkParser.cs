using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Options;

/// <summary>
/// Reads a network in CIDR notation (<c>198.18.0.0/15</c>, <c>2001:db8::/32</c>) for configured
/// networks. The address part follows <see cref="AddressParser"/>'s rules; a bare address is a
/// network of one (/32 or /128). Bits set past the prefix length are refused rather than cleared:
/// <c>198.18.0.1/15</c> is more likely a typo than a network.
/// </summary>
internal static class NetworkParser
{
    public static bool TryParse(ReadOnlySpan<char> text, out IPNetwork network)
    {
        network = default;
        var span = text.Trim();
        var slash = span.IndexOf('/');
        var addressPart = slash < 0 ? span : span[..slash];
        if (!AddressParser.TryParse(addressPart, out var address))
        {
            return false;
        }

        var maxLength = address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;
        var length = maxLength;
        if (slash >= 0 && !(int.TryParse(span[(slash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out length) && length <= maxLength))
        {
            return false;
        }

        if (!HostBitsClear(address, length))
        {
            return false;
        }

        network = new IPNetwork(address, length);
        return true;
    }

    private static bool HostBitsClear(IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (!address.TryWriteBytes(bytes, out var written))
        {
            return false;
        }

        for (var bit = prefixLength; bit < written * 8; bit++)
        {
            if ((bytes[bit / 8] & (0x80 >> (bit % 8))) != 0)
            {
                return false;
            }
        }

        return true;
    }
}
