using System.Globalization;
using TuplePool.Platform;

namespace TuplePool.Doctor.Host;

/// <summary>One socket of <c>/proc/net/tcp{,6}</c>: the library's parsed entry plus the inode, which names the owning process.</summary>
internal readonly record struct SocketLine(KernelCensusEntry Entry, ulong Inode);

/// <summary>Reads the sockets of <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c> with the library's own line parser.</summary>
internal static class SocketTable
{
    public const string TcpPath = KernelCensus.TcpPath;
    public const string Tcp6Path = KernelCensus.Tcp6Path;

    // sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode.
    private const int InodeField = 9;

    /// <summary>Every socket line of the given text; lines the parser rejects are counted in <paramref name="malformed"/>.</summary>
    public static List<SocketLine> Parse(string text, out int malformed)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sockets = new List<SocketLine>();
        malformed = 0;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            var trimmed = line.TrimStart(' ');
            if (trimmed.IsEmpty || trimmed.StartsWith("sl ", StringComparison.Ordinal))
            {
                continue;
            }

            if (KernelCensusParser.TryParseLine(line, BitConverter.IsLittleEndian, out var entry))
            {
                sockets.Add(new SocketLine(entry, ReadInode(line)));
            }
            else
            {
                malformed++;
            }
        }

        return sockets;
    }

    private static ulong ReadInode(ReadOnlySpan<char> line)
    {
        var rest = line;
        for (var field = 0; ; field++)
        {
            rest = rest.TrimStart(' ');
            if (rest.IsEmpty)
            {
                return 0;
            }

            var end = rest.IndexOf(' ');
            var part = end < 0 ? rest : rest[..end];
            if (field == InodeField)
            {
                return ulong.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var inode) ? inode : 0;
            }

            rest = end < 0 ? default : rest[end..];
        }
    }
}
