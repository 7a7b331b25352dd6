using System.Diagnostics;

namespace TuplePool.NetnsRunner;

/// <summary>Runs the namespace's own tools (ip, nft, ss): this process already lives in the namespace.</summary>
internal static class Shell
{
    public static string Run(string file, string arguments, string? stdin = null)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} took over 30 s");
        }

        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} failed ({process.ExitCode}): {error.Result.Trim()}");
        }

        return output.Result;
    }

    /// <summary>Replaces the scenario's nftables table with <paramref name="rules"/> (output-hook rules).</summary>
    public static void Nft(string rules)
    {
        Flush();
        Run("nft", "-f -", $$"""
            table inet tpfault {
              chain out {
                type filter hook output priority 0; policy accept;
                {{rules}}
              }
            }
            """);
    }

    public static void Flush()
    {
        try
        {
            Run("nft", "delete table inet tpfault");
        }
        catch (InvalidOperationException)
        {
            // No table yet.
        }
    }

    /// <summary>TCP sockets the kernel shows in <paramref name="state"/> from <paramref name="source"/> to <paramref name="destination"/>, per `ss`.</summary>
    public static int SsCount(string state, string source, string destination, int port)
    {
        var text = Run("ss", $"-H -t -n state {state} src {source} dst {destination} dport = :{port}");
        return text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Length;
    }
}
