using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>
/// The kernel settings the budget rests on, read once from <c>/proc</c>. Anything that cannot be
/// read falls back to the Linux default and is listed in <see cref="Fallbacks"/> (logged by the pool).
/// </summary>
internal sealed class KernelSettings
{
    public const string PortRangePath = "/proc/sys/net/ipv4/ip_local_port_range";
    public const string ReservedPortsPath = "/proc/sys/net/ipv4/ip_local_reserved_ports";
    public const string TcpTwReusePath = "/proc/sys/net/ipv4/tcp_tw_reuse";
    public const string TcpTwReuseDelayPath = "/proc/sys/net/ipv4/tcp_tw_reuse_delay";
    public const string TcpTimestampsPath = "/proc/sys/net/ipv4/tcp_timestamps";
    public const string OsReleasePath = "/proc/sys/kernel/osrelease";

    /// <summary>The Linux default ephemeral range, 32768–60999.</summary>
    public static readonly PortRange DefaultPortRange = new(32768, 60999);

    /// <summary>The Linux default of <c>net.ipv4.tcp_tw_reuse</c>: loopback only.</summary>
    public const int DefaultTcpTwReuse = 2;

    /// <summary>The Linux default of <c>net.ipv4.tcp_timestamps</c>: on, with a random offset per connection.</summary>
    public const int DefaultTcpTimestamps = 1;

    /// <summary>
    /// The Linux default of <c>net.ipv4.tcp_tw_reuse_delay</c>; before 6.13 the same delay was
    /// hard-coded (a TIME_WAIT socket became reusable once its timestamp was 1 s old).
    /// </summary>
    public static readonly TimeSpan DefaultTcpTwReuseDelay = TimeSpan.FromMilliseconds(1000);

    private static readonly Version BindAddressNoPortVersion = new(4, 2);
    private static readonly Version LocalPortRangeVersion = new(6, 3);
    private static readonly Version ParitySearchOffVersion = new(6, 8);
    private static readonly Version TwReuseDelayVersion = new(6, 13);

    private static readonly Lazy<KernelSettings> s_current = new(() => Read(ProcFileSystem.Default));

    /// <summary>This machine's settings, read from the real <c>/proc</c> on first use and then kept.</summary>
    public static KernelSettings Current => s_current.Value;

    public required PortRange PortRange { get; init; }

    /// <summary>True when <see cref="PortRange"/> is the Linux default because the file could not be read.</summary>
    public bool PortRangeIsFallback { get; init; }

    /// <summary>Ranges from <c>ip_local_reserved_ports</c> (single ports as one-port ranges).</summary>
    public required IReadOnlyList<PortRange> ReservedPorts { get; init; }

    /// <summary><c>net.ipv4.tcp_tw_reuse</c>: 0 off, 1 on, 2 loopback only (default 2).</summary>
    public required int TcpTwReuse { get; init; }

    /// <summary>
    /// <c>net.ipv4.tcp_timestamps</c>: 0 off, 1 on (the default), 2 on without a random offset.
    /// <c>tcp_tw_reuse</c> only takes over a TIME_WAIT tuple whose connection carried timestamps.
    /// </summary>
    public int TcpTimestamps { get; init; } = DefaultTcpTimestamps;

    /// <summary><c>net.ipv4.tcp_tw_reuse_delay</c> (Linux ≥ 6.13), else 1 s.</summary>
    public required TimeSpan TcpTwReuseDelay { get; init; }

    /// <summary>Kernel version (major.minor[.patch]); null when unknown.</summary>
    public required Version? KernelVersion { get; init; }

    public required bool IsLinux { get; init; }

    /// <summary>One line per setting that fell back to its default, saying which file and why.</summary>
    public required IReadOnlyList<string> Fallbacks { get; init; }

    /// <summary><c>IP_BIND_ADDRESS_NO_PORT</c> exists (Linux ≥ 4.2). False when the version is unknown.</summary>
    public bool SupportsBindAddressNoPort => IsLinuxAtLeast(BindAddressNoPortVersion);

    /// <summary><c>IP_LOCAL_PORT_RANGE</c> exists (Linux ≥ 6.3). False when the version is unknown.</summary>
    public bool SupportsLocalPortRange => IsLinuxAtLeast(LocalPortRangeVersion);

    /// <summary>
    /// Setting <c>IP_LOCAL_PORT_RANGE</c> also turns off the even/odd port search of
    /// <c>connect()</c> (Linux ≥ 6.8), which makes connects to a crowded tuple much cheaper.
    /// </summary>
    public bool LocalPortRangeDisablesParitySearch => IsLinuxAtLeast(ParitySearchOffVersion);

    /// <summary>Reads every setting; never throws. See <see cref="Fallbacks"/> for what was not read.</summary>
    public static KernelSettings Read(IProcFileSystem fileSystem)
        => Read(fileSystem, OperatingSystem.IsLinux(), Environment.OSVersion.Version);

    /// <summary>
    /// <see cref="Read(IProcFileSystem)"/> with the platform facts passed in, so tests can play
    /// another platform. <paramref name="osVersion"/> is used only on Linux when
    /// <c>osrelease</c> cannot be read (.NET takes it from <c>uname</c> there).
    /// </summary>
    internal static KernelSettings Read(IProcFileSystem fileSystem, bool isLinux, Version? osVersion)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        var fallbacks = new List<string>();

        var portRange = ReadPortRange(fileSystem, out var portRangeFallback);
        if (portRangeFallback is not null)
        {
            fallbacks.Add(portRangeFallback);
        }

        var reserved = ReadReservedPorts(fileSystem, fallbacks);
        var twReuse = ReadTcpTwReuse(fileSystem, fallbacks);
        var timestamps = ReadTcpTimestamps(fileSystem, fallbacks);
        var version = ReadKernelVersion(fileSystem, isLinux, osVersion, fallbacks);
        var twReuseDelay = ReadTcpTwReuseDelay(fileSystem, version, fallbacks);

        return new KernelSettings
        {
            PortRange = portRange,
            PortRangeIsFallback = portRangeFallback is not null,
            ReservedPorts = reserved,
            TcpTwReuse = twReuse,
            TcpTimestamps = timestamps,
            TcpTwReuseDelay = twReuseDelay,
            KernelVersion = version,
            IsLinux = isLinux,
            Fallbacks = fallbacks,
        };
    }

    /// <summary>
    /// Reads <c>ip_local_port_range</c> (<c>"32768\t60999"</c>). When it cannot be read or parsed,
    /// returns <see cref="DefaultPortRange"/> and says why in <paramref name="fallback"/>.
    /// </summary>
    public static PortRange ReadPortRange(IProcFileSystem fileSystem, out string? fallback)
    {
        ArgumentNullException.ThrowIfNull(fileSystem);
        var text = fileSystem.TryReadAllText(PortRangePath);
        if (text is null)
        {
            fallback = Missing(PortRangePath, DefaultPortRange.ToString());
            return DefaultPortRange;
        }

        // Two numbers separated by whitespace (a tab from the kernel).
        if (PortRange.TryParse(text, PortRange.Syntax.Whitespace, out var range) && range.IsValid)
        {
            fallback = null;
            return range;
        }

        fallback = Unparsable(PortRangePath, text, "two port numbers 1-65535, first <= last", DefaultPortRange.ToString());
        return DefaultPortRange;
    }

    /// <summary>
    /// How many distinct ports inside <paramref name="range"/> are reserved; a port that several
    /// reserved ranges cover counts once.
    /// </summary>
    public int CountReservedIn(PortRange range) => CountReservedIn(ReservedPorts, range);

    /// <summary>Distinct ports of <paramref name="reservedPorts"/> inside <paramref name="range"/>; overlaps count once.</summary>
    public static int CountReservedIn(IReadOnlyList<PortRange> reservedPorts, PortRange range)
    {
        if (!range.IsValid || reservedPorts.Count == 0)
        {
            return 0;
        }

        // Clip to the range, sort by start and sweep, so overlaps are counted once.
        var clipped = new List<PortRange>(reservedPorts.Count);
        foreach (var reserved in reservedPorts)
        {
            var first = Math.Max(reserved.First, range.First);
            var last = Math.Min(reserved.Last, range.Last);
            if (first <= last)
            {
                clipped.Add(new PortRange(first, last));
            }
        }

        clipped.Sort(static (a, b) => a.First.CompareTo(b.First));
        var count = 0;
        var coveredUpTo = int.MinValue;
        foreach (var part in clipped)
        {
            var start = Math.Max(part.First, coveredUpTo + 1);
            if (part.Last >= start)
            {
                count += part.Last - start + 1;
                coveredUpTo = part.Last;
            }
        }

        return count;
    }

    /// <summary>
    /// Whether the kernel lets a new outgoing connection take over this tuple's TIME_WAIT socket
    /// (after <see cref="TcpTwReuseDelay"/>): <c>tcp_tw_reuse</c> 1 always, 2 only when the source
    /// or destination is a loopback address (IPv4-mapped loopback included), 0 never. A source of
    /// <see cref="IPAddress.Any"/>/<see cref="IPAddress.IPv6Any"/> ("the kernel chooses") counts as
    /// not loopback. Never with <c>tcp_timestamps</c> 0: the kernel takes a TIME_WAIT socket over
    /// only when its connection carried timestamps (<c>tcp_twsk_unique</c> checks the last one
    /// seen), so a TIME_WAIT tuple then lasts the full 60 s. That also needs the peer to answer with
    /// timestamps, which every common TCP stack does (and loopback always); it cannot be read here.
    /// </summary>
    public bool IsTimeWaitReusable(IPAddress source, IPAddress destination)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        if (TcpTimestamps == 0)
        {
            return false;
        }

        return TcpTwReuse switch
        {
            1 => true,
            2 => IsLoopback(source) || IsLoopback(destination),
            _ => false,
        };
    }

    /// <summary><see cref="IPAddress.IsLoopback"/> that also sees <c>::ffff:127.x.y.z</c>, without allocating.</summary>
    internal static bool IsLoopback(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6 && address.IsIPv4MappedToIPv6)
        {
            Span<byte> bytes = stackalloc byte[16];
            return address.TryWriteBytes(bytes, out _) && bytes[12] == 127;
        }

        return IPAddress.IsLoopback(address);
    }

    private bool IsLinuxAtLeast(Version minimum) => IsLinux && KernelVersion is { } version && version >= minimum;

    private static List<PortRange> ReadReservedPorts(IProcFileSystem fileSystem, List<string> fallbacks)
    {
        var text = fileSystem.TryReadAllText(ReservedPortsPath);
        if (text is null)
        {
            fallbacks.Add(Missing(ReservedPortsPath, "no reserved ports"));
            return [];
        }

        // "8080,9000-9010" or empty. All or nothing: a list we only half understand would make the
        // budget promise ports the kernel will not hand out, so say so instead of guessing.
        var result = new List<PortRange>();
        var rest = text.AsSpan().Trim();
        while (!rest.IsEmpty)
        {
            var comma = rest.IndexOf(',');
            var item = (comma < 0 ? rest : rest[..comma]).Trim();
            rest = comma < 0 ? default : rest[(comma + 1)..];
            if (!TryParseReservedItem(item, out var range))
            {
                fallbacks.Add(Unparsable(ReservedPortsPath, text, "a comma list of ports and ranges like 8080,9000-9010", "no reserved ports"));
                return [];
            }

            result.Add(range);
        }

        return result;
    }

    private static bool TryParseReservedItem(ReadOnlySpan<char> item, out PortRange range)
        => PortRange.TryParse(item, PortRange.Syntax.Dash | PortRange.Syntax.SinglePort, out range) && range.IsValid;

    private static int ReadTcpTwReuse(IProcFileSystem fileSystem, List<string> fallbacks)
    {
        var text = fileSystem.TryReadAllText(TcpTwReusePath);
        if (text is null)
        {
            fallbacks.Add(Missing(TcpTwReusePath, "2 (loopback only)"));
            return DefaultTcpTwReuse;
        }

        if (int.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var mode) && mode is >= 0 and <= 2)
        {
            return mode;
        }

        fallbacks.Add(Unparsable(TcpTwReusePath, text, "0, 1 or 2", "2 (loopback only)"));
        return DefaultTcpTwReuse;
    }

    private static int ReadTcpTimestamps(IProcFileSystem fileSystem, List<string> fallbacks)
    {
        var text = fileSystem.TryReadAllText(TcpTimestampsPath);
        if (text is null)
        {
            fallbacks.Add(Missing(TcpTimestampsPath, "1 (on)"));
            return DefaultTcpTimestamps;
        }

        if (int.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var mode) && mode is >= 0 and <= 2)
        {
            return mode;
        }

        fallbacks.Add(Unparsable(TcpTimestampsPath, text, "0, 1 or 2", "1 (on)"));
        return DefaultTcpTimestamps;
    }

    private static TimeSpan ReadTcpTwReuseDelay(IProcFileSystem fileSystem, Version? version, List<string> fallbacks)
    {
        var text = fileSystem.TryReadAllText(TcpTwReuseDelayPath);
        if (text is null)
        {
            // Before 6.13 the file does not exist and 1 s is simply the kernel's fixed value; only
            // a newer (or unknown) kernel without it is worth a line.
            if (version is null || version >= TwReuseDelayVersion)
            {
                fallbacks.Add(Missing(TcpTwReuseDelayPath, "1000 ms"));
            }

            return DefaultTcpTwReuseDelay;
        }

        if (int.TryParse(text.AsSpan().Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var milliseconds) && milliseconds > 0)
        {
            return TimeSpan.FromMilliseconds(milliseconds);
        }

        fallbacks.Add(Unparsable(TcpTwReuseDelayPath, text, "a positive number of milliseconds", "1000 ms"));
        return DefaultTcpTwReuseDelay;
    }

    private static Version? ReadKernelVersion(IProcFileSystem fileSystem, bool isLinux, Version? osVersion, List<string> fallbacks)
    {
        var text = fileSystem.TryReadAllText(OsReleasePath);
        if (text is not null && TryParseKernelVersion(text, out var version))
        {
            return version;
        }

        var instead = isLinux && osVersion is not null && osVersion.Major > 0
            ? osVersion
            : null;
        var used = instead is null ? "unknown (newer socket options are not used)" : $"{instead} from Environment.OSVersion";
        fallbacks.Add(text is null
            ? Missing(OsReleasePath, used)
            : Unparsable(OsReleasePath, text, "a release like 6.18.44-generic", used));
        return instead;
    }

    /// <summary>Parses the leading <c>major.minor[.patch]</c> of a kernel release such as <c>"6.18.44-fc-v657"</c>.</summary>
    internal static bool TryParseKernelVersion(string text, out Version? version)
    {
        version = null;
        var span = text.AsSpan().Trim();
        Span<int> parts = stackalloc int[3];
        var count = 0;
        while (count < parts.Length)
        {
            var digits = 0;
            while (digits < span.Length && char.IsAsciiDigit(span[digits]))
            {
                digits++;
            }

            if (digits == 0 || !int.TryParse(span[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out parts[count]))
            {
                break;
            }

            count++;
            span = span[digits..];
            if (span.IsEmpty || span[0] != '.')
            {
                break;
            }

            span = span[1..];
        }

        // A kernel release always has at least major.minor ("6.18", "4.2.0-rc1").
        if (count < 2)
        {
            return false;
        }

        version = count == 2 ? new Version(parts[0], parts[1]) : new Version(parts[0], parts[1], parts[2]);
        return true;
    }

    private static string Missing(string path, string used)
        => $"{path}: missing or not readable; using {used}.";

    private static string Unparsable(string path, string text, string expected, string used)
    {
        var shown = text.Trim();
        if (shown.Length > 60)
        {
            shown = string.Concat(shown.AsSpan(0, 60), "...");
        }

        return $"{path}: '{shown}' is not {expected}; using {used}.";
    }
}
