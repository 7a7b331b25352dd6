using System.Net;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Host;

/// <summary>A port some process listens on inside the ephemeral range.</summary>
/// <param name="Port">The port.</param>
/// <param name="Addresses">The addresses it listens on (0.0.0.0, ::, 127.0.0.1, …).</param>
/// <param name="Inodes">The listening sockets' inodes, to find their processes.</param>
/// <param name="IsReserved">In <c>ip_local_reserved_ports</c>: already out of automatic assignment, so it costs nothing extra.</param>
internal sealed record ListenerPort(int Port, IReadOnlyList<IPAddress> Addresses, IReadOnlyList<ulong> Inodes, bool IsReserved);

/// <summary>What the doctor read from the host, once, for every check.</summary>
internal sealed class HostFacts
{
    public required ProcTree Tree { get; init; }

    /// <summary>The library's own reading of the port range, reserved ports, <c>tcp_tw_reuse</c> and the kernel version.</summary>
    public required KernelSettings Kernel { get; init; }

    /// <summary>Every TCP socket of the host, each once (LISTEN included).</summary>
    public required IReadOnlyList<KernelSocket> Sockets { get; init; }

    /// <summary>Where <see cref="Sockets"/> were read from: netlink, or <c>/proc/net/tcp{,6}</c>.</summary>
    public required CensusBackend Census { get; init; }

    /// <summary>Why the sockets were not read through netlink; null when they were.</summary>
    public required string? CensusFallbackReason { get; init; }

    /// <summary>The socket files that could not be read (<c>/proc</c> only).</summary>
    public required IReadOnlyList<string> UnreadableSocketFiles { get; init; }

    /// <summary>Socket lines the parser did not understand (<c>/proc</c> only).</summary>
    public required int MalformedSocketLines { get; init; }

    /// <summary>Lines that repeated a socket already read and were dropped (<c>/proc</c> repeats lines while sockets change).</summary>
    public required int DuplicateSocketLines { get; init; }

    /// <summary>LISTEN sockets whose port lies in the ephemeral range, by port.</summary>
    public required IReadOnlyList<ListenerPort> ListenersInRange { get; init; }

    /// <summary>Reserved ports inside the ephemeral range.</summary>
    public int ReservedInRange => Kernel.CountReservedIn(Kernel.PortRange);

    /// <summary>Listener ports in the range that are not reserved: each takes a port out of every outgoing tuple.</summary>
    public int ListenersTakingPorts => ListenersInRange.Count(static l => !l.IsReserved);

    /// <summary>Ports one (source, destination, port) tuple can have from the kernel right now.</summary>
    public int CapacityPerTuple => Math.Max(0, Kernel.PortRange.Count - ReservedInRange - ListenersTakingPorts);

    /// <param name="tree">Where <c>/proc</c> is read from.</param>
    /// <param name="census">
    /// Where the sockets come from; by default netlink (with <paramref name="tree"/>'s
    /// <c>/proc/net/tcp{,6}</c> where it is refused) for the live <c>/proc</c>, and only the
    /// captured files for another root.
    /// </param>
    public static HostFacts Read(ProcTree tree, IKernelCensus? census = null)
    {
        ArgumentNullException.ThrowIfNull(tree);

        // Captured text from another machine must not borrow this machine's kernel version, nor its sockets.
        var kernel = KernelSettings.Read(tree, OperatingSystem.IsLinux(), tree.IsLive ? Environment.OSVersion.Version : null);
        census ??= tree.IsLive ? new KernelCensus(tree) : KernelCensus.ProcOnly(tree, F($"captured text under {tree.Root} (--proc-root), not this host's"));
        var table = census.ReadAll(TcpStateMask.All);
        return new HostFacts
        {
            Tree = tree,
            Kernel = kernel,
            Sockets = table.Sockets,
            Census = table.Backend,
            CensusFallbackReason = table.FallbackReason,
            UnreadableSocketFiles = table.UnreadableFiles,
            MalformedSocketLines = table.MalformedLines,
            DuplicateSocketLines = table.DuplicatesDropped,
            ListenersInRange = FindListeners(table.Sockets, kernel),
        };
    }

    /// <summary>True when <paramref name="port"/> is in <c>ip_local_reserved_ports</c>.</summary>
    public bool IsReserved(int port) => Kernel.ReservedPorts.Any(r => r.Contains(port));

    private static List<ListenerPort> FindListeners(IReadOnlyList<KernelSocket> sockets, KernelSettings kernel)
    {
        return sockets
            .Where(s => s.State == TcpState.Listen && kernel.PortRange.Contains(s.LocalPort))
            .GroupBy(s => s.LocalPort)
            .OrderBy(g => g.Key)
            .Select(g => new ListenerPort(
                g.Key,
                g.Select(s => s.LocalAddress).Distinct().ToList(),
                g.Select(s => (ulong)s.Inode).Where(i => i != 0).Distinct().ToList(),
                kernel.ReservedPorts.Any(r => r.Contains(g.Key))))
            .ToList();
    }
}
