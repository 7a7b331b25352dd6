namespace TuplePool.Tests.Support;

/// <summary>This process's open sockets and the kernel's TCP sockets, by inode (Linux /proc).</summary>
public static class OpenFiles
{
    /// <summary>The inodes of this process's open sockets (<c>/proc/self/fd</c> links <c>socket:[inode]</c>).</summary>
    public static HashSet<long> SocketInodes()
    {
        var inodes = new HashSet<long>();
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                var target = new FileInfo(fd).LinkTarget;
                if (target is not null && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    inodes.Add(long.Parse(target.AsSpan(8, target.Length - 9), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the look.
            }
        }

        return inodes;
    }

    /// <summary>
    /// The inodes of the TCP sockets whose local port lies in <paramref name="slice"/> (from
    /// <c>/proc/net/tcp</c> and <c>tcp6</c>): a test's own client sockets, whatever other tests
    /// running beside it open and close. TIME_WAIT entries have no inode (0) and are left out.
    /// </summary>
    public static HashSet<long> TcpSocketInodes(PortRange slice)
    {
        var inodes = new HashSet<long>();
        foreach (var file in new[] { "/proc/net/tcp", "/proc/net/tcp6" })
        {
            foreach (var line in File.ReadLines(file).Skip(1))
            {
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length < 10)
                {
                    continue;
                }

                var local = fields[1];
                var port = int.Parse(local.AsSpan(local.IndexOf(':') + 1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                var inode = long.Parse(fields[9], System.Globalization.CultureInfo.InvariantCulture);
                if (slice.Contains(port) && inode != 0)
                {
                    inodes.Add(inode);
                }
            }
        }

        return inodes;
    }
}
