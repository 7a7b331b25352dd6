using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Support;

/// <summary>
/// The kernel's own view of this test's sockets: every line of <c>/proc/net/tcp</c> and
/// <c>/proc/net/tcp6</c>, filtered to a client port slice. A listener port is shared across runs
/// (TIME_WAIT from an earlier run of the suite lasts 60 s), but a test's client slice is its own,
/// so counting by slice counts only what this test did.
/// </summary>
internal static class KernelSockets
{
    /// <summary>Client-side sockets whose local port lies in <paramref name="slice"/>, towards <paramref name="destination"/>.</summary>
    public static int Count(PortRange slice, IPEndPoint destination, TcpState? state = null)
    {
        var count = 0;
        foreach (var entry in Read())
        {
            if (slice.Contains(entry.LocalPort)
                && entry.RemotePort == destination.Port
                && entry.RemoteAddress.Equals(Normalize(destination.Address))
                && (state is { } wanted ? entry.State == wanted : entry.State != TcpState.Listen))
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>Reads until <paramref name="condition"/> holds on the count or <paramref name="limit"/> passes; returns the last count.</summary>
    /// <remarks>
    /// The kernel moves a socket to TIME_WAIT (or frees it) when the peer's FIN/ACK or RST has been
    /// processed, a moment after our close() returned; nothing signals that to user space, so this
    /// re-reads (every 20 ms, bounded) until the expected state shows.
    /// </remarks>
    public static async Task<int> WaitForCountAsync(PortRange slice, IPEndPoint destination, TcpState? state, Func<int, bool> condition, TimeSpan? limit = null)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var count = Count(slice, destination, state);
            if (condition(count) || TimeProvider.System.GetElapsedTime(started) > (limit ?? TimeSpan.FromSeconds(10)))
            {
                return count;
            }

            await Task.Delay(20);
        }
    }

    /// <remarks>
    /// The kernel prints <c>/proc/net/tcp</c> in chunks while other processes open and close
    /// sockets, so one read can repeat a line or miss one. Two reads, merged with duplicates
    /// dropped (no two live sockets share a 4-tuple and state), count every socket that lived
    /// through both exactly once.
    /// </remarks>
    internal static HashSet<KernelCensusEntry> Read()
    {
        var entries = new HashSet<KernelCensusEntry>();
        ReadOnce(entries);
        ReadOnce(entries);
        return entries;
    }

    private static void ReadOnce(HashSet<KernelCensusEntry> entries)
    {
        foreach (var path in (ReadOnlySpan<string>)[KernelCensus.TcpPath, KernelCensus.Tcp6Path])
        {
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            foreach (var line in text.AsSpan().EnumerateLines())
            {
                if (KernelCensusParser.TryParseLine(line, BitConverter.IsLittleEndian, out var entry))
                {
                    entries.Add(entry);
                }
            }
        }
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
