using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using TuplePool;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>happy-eyeballs --host NAME --port P --delay-ms D (-1: off) --connect-timeout-ms T</c>: NAME resolves to
/// ::1 and 127.0.0.1 (the namespace's hosts file), both listen on P, and the namespace drops
/// IPv6 SYNs to P. Acquires NAME:P through the pool and reports how long it took, which family
/// won, and what the pool and the kernel hold afterwards.
/// </summary>
internal static class HappyEyeballsScenario
{
    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var host = args.Get("host");
        var port = args.GetInt("port");
        var delay = args.GetInt("delay-ms") is var ms and >= 0 ? TimeSpan.FromMilliseconds(ms) : Timeout.InfiniteTimeSpan;
        var connectTimeout = TimeSpan.FromMilliseconds(args.GetInt("connect-timeout-ms"));
        using var v6 = Listen(IPAddress.IPv6Loopback, port);
        using var v4 = Listen(IPAddress.Loopback, port);

        TuplePoolOptions Options() => new()
        {
            HappyEyeballsDelay = delay,
            ConnectTimeout = connectTimeout,
            TotalConnectTimeout = connectTimeout * 2,
            CloseMode = CloseMode.Abortive,
        };

        // A first open in a fresh process pays for JIT and the first name lookup; the figure is
        // taken from a second pool, so it measures the connect path alone.
        var warmUp = Stopwatch.StartNew();
        await using (var cold = new SocketPool(Options()))
        {
            var first = await cold.AcquireAsync(new DnsEndPoint(host, port));
            first.Invalidate();
            first.Dispose();
        }

        var warmUpMs = warmUp.Elapsed.TotalMilliseconds;
        await using var pool = new SocketPool(Options());
        var clock = Stopwatch.StartNew();
        var lease = await pool.AcquireAsync(new DnsEndPoint(host, port));
        var elapsed = clock.Elapsed;
        var whileLeased = pool.GetSnapshot();
        var socketsWhileLeased = SocketTable.ClientSocketsTo(port);
        var remote = lease.RemoteEndPoint;
        lease.Invalidate();
        lease.Dispose();
        var after = pool.GetSnapshot();
        var socketsAfter = SocketTable.ClientSocketsTo(port);

        return new JsonObject
        {
            ["elapsedMs"] = elapsed.TotalMilliseconds,
            ["warmUpMs"] = warmUpMs,
            ["remote"] = remote.ToString(),
            ["remoteFamily"] = remote.AddressFamily.ToString(),
            ["activeWhileLeased"] = whileLeased.TotalActive,
            ["clientSocketsWhileLeased"] = Json(socketsWhileLeased),
            ["activeAfter"] = after.TotalActive,
            ["timeWaitAfter"] = after.TotalTimeWait,
            ["clientSocketsAfter"] = Json(socketsAfter),
        };
    }

    private static Socket Listen(IPAddress address, int port)
    {
        var listener = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            listener.DualMode = false;
        }

        listener.Bind(new IPEndPoint(address, port));
        listener.Listen(16);
        return listener;
    }

    private static JsonObject Json(Dictionary<string, int> counts)
    {
        var json = new JsonObject();
        foreach (var (state, count) in counts)
        {
            json[state] = count;
        }

        return json;
    }
}
