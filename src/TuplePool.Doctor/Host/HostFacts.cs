using System.Net;
using TuplePool.Platform;

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

    /// <summary>Every socket of <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c> that could be read.</summary>
    public required IReadOnlyList<SocketLine> Sockets { get; init; }

    /// <summary>The socket files that could not be read.</summary>
    public required IReadOnlyList<string> UnreadableSocketFiles { get; init; }

    /// <summary>Socket lines the parser did not understand.</summary>
    public required int MalformedSocketLines { get; init; }

    /// <summary>LISTEN sockets whose port lies in the ephemeral range, by port.</summary>
    public required IReadOnlyList<ListenerPort> ListenersInRange { get; init; }

    /// <summary>Reserved ports inside the ephemeral range.</summary>
    public int ReservedInRange => Kernel.CountReservedIn(Kernel.PortRange);

    /// <summary>Listener ports in the range that are not reserved: each takes a port out of every outgoing tuple.</summary>
    public int ListenersTakingPorts => ListenersInRange.Count(static l => !l.IsReserved);

    /// <summary>Ports one (source, destination, port) tuple can have from the kernel right now.</summary>
    public int CapacityPerTuple => Math.Max(0, Kernel.PortRange.Count - ReservedInRange - ListenersTakingPorts);

    public static HostFacts Read(ProcTree tree)
    {
        ArgumentNullException.ThrowIfNull(tree);

        // Captured text from another machine must not borrow this machine's kernel version.
        var kernel = KernelSettings.Read(tree, OperatingSystem.IsLinux(), tree.IsLive ? Environment.OSVersion.Version : null);
        var sockets = new List<SocketLine>();
        var unreadable = new List<string>();
        var malformed = 0;
        foreach (var path in (ReadOnlySpan<string>)[SocketTable.TcpPath, SocketTable.Tcp6Path])
        {
            var text = tree.TryReadAllText(path);
            if (text is null)
            {
                unreadable.Add(path);
                continue;
            }

            sockets.AddRange(SocketTable.Parse(text, out var bad));
            malformed += bad;
        }

        return new HostFacts
        {
            Tree = tree,
            Kernel = kernel,
            Sockets = sockets,
            UnreadableSocketFiles = unreadable,
            MalformedSocketLines = malformed,
            ListenersInRange = FindListeners(sockets, kernel),
        };
    }

    /// <summary>True when <paramref name="port"/> is in <c>ip_local_reserved_ports</c>.</summary>
    public bool IsReserved(int port) => Kernel.ReservedPorts.Any(r => r.Contains(port));

    private static List<ListenerPort> FindListeners(List<SocketLine> sockets, KernelSettings kernel)
    {
        return sockets
            .Where(s => s.Entry.State == TcpState.Listen && kernel.PortRange.Contains(s.Entry.LocalPort))
            .GroupBy(s => s.Entry.LocalPort)
            .OrderBy(g => g.Key)
            .Select(g => new ListenerPort(
                g.Key,
                g.Select(s => s.Entry.LocalAddress).Distinct().ToList(),
                g.Select(s => s.Inode).Where(i => i != 0).Distinct().ToList(),
                kernel.ReservedPorts.Any(r => r.Contains(g.Key))))
            .ToList();
    }
}
