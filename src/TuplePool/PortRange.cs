using System.ComponentModel;
using System.Globalization;
using TuplePool.Platform;

namespace TuplePool;

/// <summary>
/// An inclusive range of local TCP ports, as in <c>net.ipv4.ip_local_port_range</c>.
/// Written and parsed as <c>"First-Last"</c>, for example <c>"40000-44999"</c>.
/// </summary>
/// <param name="First">The first port of the range (1–65535).</param>
/// <param name="Last">The last port of the range (First–65535).</param>
[TypeConverter(typeof(PortRangeConverter))]
public readonly record struct PortRange(int First, int Last)
{
    /// <summary>How many ports the range holds; 0 when it is not valid.</summary>
    public int Count => IsValid ? Last - First + 1 : 0;

    /// <summary>True when 1 ≤ <see cref="First"/> ≤ <see cref="Last"/> ≤ 65535.</summary>
    public bool IsValid => First is >= 1 and <= 65535 && Last is >= 1 and <= 65535 && First <= Last;

    /// <summary>True when <paramref name="port"/> lies inside the range.</summary>
    public bool Contains(int port) => port >= First && port <= Last;

    /// <summary>
    /// Reads the system ephemeral range from <c>/proc/sys/net/ipv4/ip_local_port_range</c>.
    /// Where that file cannot be read (not Linux, a restricted container) it returns the Linux
    /// default 32768–60999.
    /// </summary>
    public static PortRange ReadSystem() => KernelSettings.ReadPortRange(ProcFileSystem.Default, out _);

    /// <summary>Parses <c>"First-Last"</c> (or a single port <c>"N"</c>).</summary>
    /// <exception cref="FormatException">The text is not a valid range.</exception>
    public static PortRange Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return TryParse(text, out var range)
            ? range
            : throw new FormatException($"'{text}' is not a port range; write it as \"First-Last\" with 1 <= First <= Last <= 65535, for example \"40000-44999\".");
    }

    /// <summary>Parses <c>"First-Last"</c> (or a single port <c>"N"</c>) without throwing.</summary>
    public static bool TryParse(string? text, out PortRange range)
    {
        range = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var span = text.AsSpan().Trim();
        var dash = span.IndexOf('-');
        if (dash < 0)
        {
            dash = span.IndexOf('\t');
        }

        int first, last;
        if (dash < 0)
        {
            if (!int.TryParse(span, NumberStyles.None, CultureInfo.InvariantCulture, out first))
            {
                return false;
            }

            last = first;
        }
        else if (!int.TryParse(span[..dash].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out first)
            || !int.TryParse(span[(dash + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out last))
        {
            return false;
        }

        var candidate = new PortRange(first, last);
        if (!candidate.IsValid)
        {
            return false;
        }

        range = candidate;
        return true;
    }

    /// <summary>Formats the range as <c>"First-Last"</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");
}
