using System.Net;

namespace TuplePool.Platform;

/// <summary>
/// The kernel settings the budget rests on, read once from <c>/proc</c>. Anything that cannot be
/// read falls back to the Linux default and is listed in <see cref="Fallbacks"/> (logged by the pool).
/// </summary>
internal sealed class KernelSettings
{
    /// <summary>The Linux default ephemeral range, 32768–60999.</summary>
    public static readonly PortRange DefaultPortRange = new(32768, 60999);

    public required PortRange PortRange { get; init; }

    /// <summary>Ranges from <c>ip_local_reserved_ports</c> (single ports as one-port ranges).</summary>
    public required IReadOnlyList<PortRange> ReservedPorts { get; init; }

    /// <summary><c>net.ipv4.tcp_tw_reuse</c>: 0 off, 1 on, 2 loopback only (default 2).</summary>
    public required int TcpTwReuse { get; init; }

    /// <summary><c>net.ipv4.tcp_tw_reuse_delay</c> (Linux ≥ 6.13), else 1 s.</summary>
    public required TimeSpan TcpTwReuseDelay { get; init; }

    /// <summary>Kernel version (major.minor[.patch]); null when unknown.</summary>
    public required Version? KernelVersion { get; init; }

    public required bool IsLinux { get; init; }

    /// <summary>One line per setting that fell back to its default, saying which file and why.</summary>
    public required IReadOnlyList<string> Fallbacks { get; init; }

    public bool SupportsBindAddressNoPort => throw new NotImplementedException();

    public bool SupportsLocalPortRange => throw new NotImplementedException();

    public bool LocalPortRangeDisablesParitySearch => throw new NotImplementedException();

    public static KernelSettings Read(IProcFileSystem fileSystem) => throw new NotImplementedException();

    public static PortRange ReadPortRange(IProcFileSystem fileSystem, out string? fallback) => throw new NotImplementedException();

    public int CountReservedIn(PortRange range) => throw new NotImplementedException();

    public bool IsTimeWaitReusable(IPAddress source, IPAddress destination) => throw new NotImplementedException();
}
