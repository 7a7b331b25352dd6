using System.Diagnostics.CodeAnalysis;
using System.Net;

namespace TuplePool.Options;

/// <summary>
/// The one reader of IP address literals, for configured source addresses and for the host of an
/// HTTP request (<c>UseTuplePool</c> hands the pool an <see cref="IPEndPoint"/> when the host is a
/// literal). Only text that is unmistakably an address: an IPv6 address (optionally in brackets,
/// as a URI writes it) or a dotted-quad IPv4 address. <see cref="IPAddress.TryParse(string?, out IPAddress?)"/>
/// alone also reads <c>"10"</c> as 0.0.0.10 and <c>"127.1"</c> as 127.0.0.1, which no configuration
/// file meant, and a host name may be all digits.
/// </summary>
internal static class AddressParser
{
    public static bool TryParse(ReadOnlySpan<char> text, [NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        var span = text.Trim();
        if (span.Length > 2 && span[0] == '[' && span[^1] == ']')
        {
            span = span[1..^1];
        }

        return (span.Contains(':') || IsDottedQuad(span)) && IPAddress.TryParse(span, out address);
    }

    /// <summary>Four groups of decimal digits: no hex, octal-looking shorthands or fewer parts.</summary>
    private static bool IsDottedQuad(ReadOnlySpan<char> text)
    {
        var parts = 0;
        var digits = 0;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (digits == 0)
                {
                    return false;
                }

                parts++;
                digits = 0;
            }
            else if (char.IsAsciiDigit(c))
            {
                digits++;
            }
            else
            {
                return false;
            }
        }

        return parts == 3 && digits > 0;
    }
}
