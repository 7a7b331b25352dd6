using System.Diagnostics;

namespace TuplePool.NetnsRunner;

/// <summary>What <c>ss</c> shows in this process's network namespace.</summary>
internal static class SocketTable
{
    /// <summary>Client-side TCP sockets to <paramref name="port"/> (peer port), by state, LISTEN excluded.</summary>
    public static Dictionary<string, int> ClientSocketsTo(int port)
    {
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in Run("-Htan"))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 5 && fields[0] != "LISTEN" && fields[4].EndsWith($":{port}", StringComparison.Ordinal))
            {
                counts[fields[0]] = counts.GetValueOrDefault(fields[0]) + 1;
            }
        }

        return counts;
    }

    /// <summary>
    /// Client-side sockets to <paramref name="port"/> our close left behind: FIN-WAIT-1/2, CLOSING,
    /// LAST-ACK and TIME-WAIT (<c>ss -Htan dport = :port</c>, those states).
    /// </summary>
    public static int AfterCloseTo(int port)
        => ClientSocketsTo(port).Where(s => s.Key is "FIN-WAIT-1" or "FIN-WAIT-2" or "CLOSING" or "LAST-ACK" or "TIME-WAIT").Sum(s => s.Value);

    /// <summary>Client-side TIME_WAIT entries to <paramref name="port"/>: <c>ss -Htan state time-wait dport = :port</c>.</summary>
    public static int TimeWaitTo(int port) => Run($"-Htan state time-wait dport = :{port}").Count;

    private static List<string> Run(string arguments)
    {
        using var ss = Process.Start(new ProcessStartInfo("ss", arguments) { RedirectStandardOutput = true, UseShellExecute = false })
            ?? throw new InvalidOperationException("ss did not start");
        var lines = new List<string>();
        while (ss.StandardOutput.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
            }
        }

        ss.WaitForExit();
        return lines;
    }
}
