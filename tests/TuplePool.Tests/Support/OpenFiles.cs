namespace TuplePool.Tests.Support;

/// <summary>Counts this process's open file descriptors (Linux: entries of /proc/self/fd).</summary>
public static class OpenFiles
{
    public static int Count() => Directory.GetFiles("/proc/self/fd").Length;

    /// <summary>How many open descriptors are sockets (links to <c>socket:[inode]</c>).</summary>
    public static int Sockets()
    {
        var count = 0;
        foreach (var fd in Directory.GetFiles("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed between the listing and the look.
            }
        }

        return count;
    }

    /// <summary>Waits briefly for the socket count to fall back to <paramref name="expected"/> (async closes).</summary>
    public static async Task<int> SettleSocketsAsync(int expected)
    {
        var count = Sockets();
        for (var i = 0; i < 100 && count > expected; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            await Task.Delay(20);
            count = Sockets();
        }

        return count;
    }
}
