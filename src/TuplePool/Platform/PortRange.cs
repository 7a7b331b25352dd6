using System.ComponentModel;
using System.Globalization;

namespace TuplePool;

/// <summary>
/// An inclusive range of local TCP ports, as in <c>net.ipv4.ip_local_port_range</c>.
/// Written and parsed as <c>"First-Last"</c>, for example <c>"40000-44999"</c>.
/// </summary>
/// <remarks>
/// A plain value: it parses and formats itself. It lives in Platform, beside the reader of
/// <c>/proc</c> that produces it: the one member that reads the kernel, <see cref="ReadSystem"/>
/// (<c>PortRange.ReadSystem.cs</c>), forwards to <c>KernelSettings</c>; options, budget and
/// doctor take the type from here.
/// </remarks>
/// <param name="First">The first port of the range (1–65535).</param>
/// <param name="Last">The last port of the range (First–65535).</param>
[TypeConverter(typeof(Converter))]
public readonly partial record struct PortRange(int First, int Last)
{
    /// <summary>How many ports the range holds; 0 when it is not valid.</summary>
    public int Count => IsValid ? Last - First + 1 : 0;

    /// <summary>True when 1 ≤ <see cref="First"/> ≤ <see cref="Last"/> ≤ 65535.</summary>
    public bool IsValid => First is >= 1 and <= 65535 && Last is >= 1 and <= 65535 && First <= Last;

    /// <summary>True when <paramref name="port"/> lies inside the range.</summary>
    public bool Contains(int port) => port >= First && port <= Last;

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
        if (text is not null && TryParse(text, Syntax.Dash | Syntax.Whitespace | Syntax.SinglePort, out var parsed) && parsed.IsValid)
        {
            range = parsed;
            return true;
        }

        range = default;
        return false;
    }

    /// <summary>Formats the range as <c>"First-Last"</c>.</summary>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{First}-{Last}");

    /// <summary>
    /// The one port-range reader every caller uses (<see cref="TryParse(string?, out PortRange)"/>,
    /// the kernel's <c>ip_local_port_range</c> and <c>ip_local_reserved_ports</c>, configuration
    /// binding); <paramref name="syntax"/> says which forms the caller's text may take. Numbers are
    /// unsigned decimal, spaces around them are ignored. The result is not checked against
    /// 1–65535 or First ≤ Last: callers that need a valid range test <see cref="IsValid"/>, the
    /// configuration binder leaves that to validation, which can say what exactly is wrong.
    /// </summary>
    internal static bool TryParse(ReadOnlySpan<char> text, Syntax syntax, out PortRange range)
    {
        range = default;
        var span = text.Trim();
        var separator = (syntax & Syntax.Dash) != 0 ? span.IndexOf('-') : -1;
        if (separator < 0 && (syntax & Syntax.Whitespace) != 0)
        {
            separator = span.IndexOfAny(' ', '\t');
        }

        if (separator < 0)
        {
            if ((syntax & Syntax.SinglePort) == 0 || !TryParsePort(span, out var single))
            {
                return false;
            }

            range = new PortRange(single, single);
            return true;
        }

        if (!TryParsePort(span[..separator], out var first) || !TryParsePort(span[(separator + 1)..], out var last))
        {
            return false;
        }

        range = new PortRange(first, last);
        return true;
    }

    private static bool TryParsePort(ReadOnlySpan<char> text, out int port)
        => int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out port);

    /// <summary>The forms a port range may be written in, for <see cref="TryParse(ReadOnlySpan{char}, Syntax, out PortRange)"/>.</summary>
    [Flags]
    internal enum Syntax
    {
        /// <summary><c>"First-Last"</c>.</summary>
        Dash = 1,

        /// <summary><c>"First Last"</c> or <c>"First\tLast"</c>, as <c>ip_local_port_range</c> reads.</summary>
        Whitespace = 2,

        /// <summary><c>"N"</c>, meaning <c>N-N</c>.</summary>
        SinglePort = 4,
    }
}
