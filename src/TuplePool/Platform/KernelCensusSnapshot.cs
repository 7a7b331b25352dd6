using System.Net;
using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>Socket counts per (source IP, destination IP, destination port) and TCP state.</summary>
/// <remarks>
/// Addresses are compared by their bytes: IPv4-mapped IPv6 addresses count as IPv4 (the census
/// stores them that way) and an IPv6 scope id is ignored (<c>/proc</c> does not print one).
/// Every socket is counted once, even where <c>/proc</c> printed it twice; read from
/// <c>/proc</c> while sockets come and go a snapshot can still miss a few, so there the counts
/// are a close estimate from below.
/// </remarks>
internal sealed class KernelCensusSnapshot
{
    private readonly Dictionary<KernelCensusKey, int> _counts;

    public KernelCensusSnapshot(Dictionary<KernelCensusKey, int> counts, int malformedLines, IReadOnlyList<string> unreadableFiles, CensusBackend backend = CensusBackend.ProcNetTcp)
    {
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(unreadableFiles);
        _counts = counts;
        MalformedLines = malformedLines;
        UnreadableFiles = unreadableFiles;
        Backend = backend;
    }

    /// <summary>A census that saw nothing.</summary>
    public static KernelCensusSnapshot Empty { get; } = new([], 0, [], CensusBackend.Unavailable);

    /// <summary>Where the sockets were read from.</summary>
    public CensusBackend Backend { get; }

    /// <summary>Lines that were skipped because they did not have the kernel's shape.</summary>
    public int MalformedLines { get; }

    /// <summary>Census files that could not be read (not Linux, no IPv6, a restricted container).</summary>
    public IReadOnlyList<string> UnreadableFiles { get; }

    /// <summary>All sockets counted, LISTEN included.</summary>
    public int TotalSockets => _counts.Values.Sum();

    /// <summary>The counts of a table read by a census.</summary>
    public static KernelCensusSnapshot FromTable(KernelSocketTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        var counts = new Dictionary<KernelCensusKey, int>();
        foreach (var socket in table.Sockets)
        {
            var key = new KernelCensusKey(socket.LocalAddress, socket.LocalPort, socket.RemoteAddress, socket.RemotePort, socket.State);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return new KernelCensusSnapshot(counts, table.MalformedLines, table.UnreadableFiles, table.Backend);
    }

    /// <summary>A snapshot of the given sockets; for tests of code that consumes the census.</summary>
    public static KernelCensusSnapshot FromEntries(IEnumerable<KernelCensusEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var counts = new Dictionary<KernelCensusKey, int>();
        foreach (var entry in entries)
        {
            var key = new KernelCensusKey(Normalize(entry.LocalAddress), entry.LocalPort, Normalize(entry.RemoteAddress), entry.RemotePort, entry.State);
            counts[key] = counts.GetValueOrDefault(key) + 1;
        }

        return new KernelCensusSnapshot(counts, 0, []);
    }

    /// <summary>Sockets in any state but LISTEN; a source of Any/IPv6Any matches every source.</summary>
    /// <remarks>
    /// Every socket talking to <paramref name="destination"/> has a local address of the
    /// destination's family (mapped addresses are IPv4 here), so either wildcard matches them all:
    /// a dual-stack socket bound to <c>::</c> that connects to an IPv4 destination is counted too.
    /// </remarks>
    public int CountUsing(IPAddress source, IPEndPoint destination) => Sum(source, destination, state: null, localPorts: null);

    /// <summary>
    /// Sockets in any state but LISTEN whose local port lies in <paramref name="localPorts"/>: those
    /// that take a port from a search of that range (the kernel's for a pool's sockets). A socket on
    /// the tuple bound to a port outside it — another program's own range, a plain <c>bind()</c> —
    /// never stands in that search's way.
    /// </summary>
    public int CountUsing(IPAddress source, IPEndPoint destination, PortRange localPorts) => Sum(source, destination, state: null, localPorts);

    /// <summary>Sockets in <paramref name="state"/>; a source of Any/IPv6Any matches every source.</summary>
    public int Count(IPAddress source, IPEndPoint destination, TcpState state) => Sum(source, destination, state, localPorts: null);

    private int Sum(IPAddress source, IPEndPoint destination, TcpState? state, PortRange? localPorts)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        var local = Normalize(source);
        var remote = Normalize(destination.Address);
        var anySource = IsWildcard(local);
        var total = 0;
        foreach (var (key, count) in _counts)
        {
            if (key.RemotePort == destination.Port
                && (state is { } wanted ? key.State == wanted : key.State != TcpState.Listen)
                && SameAddress(key.RemoteAddress, remote)
                && (localPorts is not { } ports || ports.Contains(key.LocalPort))
                && (anySource || SameAddress(key.LocalAddress, local)))
            {
                total += count;
            }
        }

        return total;
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static bool IsWildcard(IPAddress address) => address.Equals(IPAddress.Any) || SameAddress(address, IPAddress.IPv6Any);

    private static bool SameAddress(IPAddress a, IPAddress b)
    {
        if (a.AddressFamily != b.AddressFamily)
        {
            return false;
        }

        if (a.AddressFamily == AddressFamily.InterNetwork)
        {
            return a.Equals(b);
        }

        // IPAddress.Equals would also compare the scope id, which /proc never shows.
        Span<byte> left = stackalloc byte[16];
        Span<byte> right = stackalloc byte[16];
        return a.TryWriteBytes(left, out _) && b.TryWriteBytes(right, out _) && left.SequenceEqual(right);
    }
}
