using System.Diagnostics;
using System.Globalization;
using System.Net;
using TuplePool.TestServers;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Nat;

/// <summary>
/// A redis-server inside the NAT lab's router, on an address of its own
/// (<see cref="Address"/>, on the router's <c>lo</c>) that every client reaches through its default
/// route without crossing the NAT (the masquerade applies to traffic leaving for the server only).
/// No persistence (<c>--save '' --appendonly no</c>); protected mode off, since it accepts only
/// loopback clients without a password and the lab's clients come from their own links (nothing
/// outside the lab's namespaces can reach the router). It runs under a shell that kills it when its
/// stdin closes, so it ends with the test process however that ends; Dispose kills it at once.
/// </summary>
internal sealed class LabRedis : IDisposable
{
    /// <summary>Redis's address in the router: from 198.18.0.0/15 like every lab address, on no link.</summary>
    public static readonly IPAddress Address = IPAddress.Parse("198.18.0.1");

    private readonly Process _shell;
    private readonly int _serverPid;

    private LabRedis(Process shell, int serverPid, IPEndPoint endPoint)
    {
        _shell = shell;
        _serverPid = serverPid;
        EndPoint = endPoint;
    }

    /// <summary>Where the clients connect.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Starts redis-server in <paramref name="lab"/>'s router on <paramref name="port"/> (below 32768) and waits until it listens.</summary>
    public static async Task<LabRedis> StartAsync(NatLab lab, int port)
    {
        var executable = RedisServer.Executable ?? throw new InvalidOperationException(RedisServer.MissingReason);
        lab.Router.Exec("ip", "addr", "add", $"{Address}/32", "dev", "lo");
        var start = new ProcessStartInfo("ip")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in (string[])["netns", "exec", lab.Router.Name, "/bin/sh", "-c", "\"$0\" \"$@\" >/dev/null 2>&1 & echo $!; cat >/dev/null; kill -9 $! 2>/dev/null", executable,
            "--bind", Address.ToString(), "--port", Text(port), "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"])
        {
            start.ArgumentList.Add(argument);
        }

        var shell = Process.Start(start) ?? throw new InvalidOperationException("ip netns exec did not start");
        var pid = int.Parse(await shell.StandardOutput.ReadLineAsync() ?? "0", CultureInfo.InvariantCulture);
        var redis = new LabRedis(shell, pid, new IPEndPoint(Address, port));
        var started = TimeProvider.System.GetTimestamp();
        while (lab.Router.Exec("ss", "-Htln", "sport", "=", $":{Text(port)}").StandardOutput.Trim().Length == 0)
        {
            if (TimeProvider.System.GetElapsedTime(started) > TimeSpan.FromSeconds(10))
            {
                redis.Dispose();
                throw new InvalidOperationException($"redis-server did not listen on {redis.EndPoint} in the router within 10 s");
            }

            await Task.Delay(20);
        }

        return redis;
    }

    public void Dispose()
    {
        try
        {
            using var server = Process.GetProcessById(_serverPid);
            server.Kill();
            server.WaitForExit(5000);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // Already gone.
        }

        _shell.StandardInput.Close();
        _shell.WaitForExit(5000);
        _shell.Dispose();
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
