using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using TuplePool;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>time-wait-ledger --port P</c>, in a namespace with <c>tcp_tw_reuse=0</c> (so every
/// TIME_WAIT lasts 60 s and can be counted): closes connections every way there is — HttpClient
/// through <c>UseTuplePool</c> (disposed, idle-expired with its read pending, server closing
/// first, server resetting) and raw leases (idle, read pending, reset read by the caller, server
/// first, half-closed, bytes unread) — and after each phase reports the pool's TIME_WAIT charge
/// beside <c>ss -tan state time-wait dport = :P</c>.
/// </summary>
internal static class TimeWaitLedgerScenario
{
    private const int Parallel = 4;

    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var port = args.GetInt("port");
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        await using var server = new RawHttpServer(endPoint);
        await using var pool = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Graceful, AcquireTimeout = TimeSpan.FromSeconds(10) });
        var phases = new JsonArray();
        var result = new JsonObject { ["phases"] = phases };

        async Task PhaseAsync(string name, Func<Task> body)
        {
            var poolBefore = pool.GetSnapshot().TotalTimeWait;
            var ssBefore = SocketTable.TimeWaitTo(port);
            var acceptedBefore = server.Accepted;
            await body();
            await WaitUntilAsync(() => pool.GetSnapshot().TotalActive == 0, TimeSpan.FromSeconds(20));

            // The kernel files a TIME_WAIT when the server's FIN comes back, and the pool asks the
            // kernel about each closed 4-tuple a second after its close: give both a moment,
            // reading both again each time.
            await WaitUntilAsync(() => pool.GetSnapshot().TotalTimeWait - poolBefore == SocketTable.TimeWaitTo(port) - ssBefore, TimeSpan.FromSeconds(5));
            var poolNow = pool.GetSnapshot().TotalTimeWait;
            var ssNow = SocketTable.TimeWaitTo(port);
            phases.Add(new JsonObject
            {
                ["name"] = name,
                ["poolTimeWait"] = poolNow - poolBefore,
                ["ssTimeWait"] = ssNow - ssBefore,
                ["activeAfter"] = pool.GetSnapshot().TotalActive,
                ["connections"] = server.Accepted - acceptedBefore,
            });
        }

        await PhaseAsync("http-client-disposed", async () =>
        {
            using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));
            await GetAllAsync(client, endPoint, "/keep");
        });
        await PhaseAsync("http-idle-expired-read-pending", async () =>
        {
            using var client = new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(2) }.UseTuplePool(pool));
            await GetAllAsync(client, endPoint, "/keep");
            await WaitUntilAsync(() => pool.GetSnapshot().TotalActive == 0, TimeSpan.FromSeconds(20));
        });
        await PhaseAsync("http-server-closes-first", async () =>
        {
            using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));
            await GetAllAsync(client, endPoint, "/close");
            await WaitUntilAsync(() => pool.GetSnapshot().TotalActive == 0, TimeSpan.FromSeconds(20));
        });
        await PhaseAsync("http-server-resets", async () =>
        {
            // One client per request: a reset connection reused by a second request would fail it.
            var clients = Enumerable.Range(0, Parallel)
                .Select(_ => new HttpClient(new SocketsHttpHandler { PooledConnectionIdleTimeout = TimeSpan.FromSeconds(4) }.UseTuplePool(pool)))
                .ToList();
            await Task.WhenAll(clients.Select(c => c.GetStringAsync(new Uri($"http://{endPoint}/reset"))));
            await WaitUntilAsync(() => pool.GetSnapshot().TotalActive == 0, TimeSpan.FromSeconds(20));
            clients.ForEach(c => c.Dispose());
        });
        await PhaseAsync("raw-idle", async () =>
        {
            var lease = await pool.AcquireAsync(endPoint);
            await ExchangeAsync(lease, "/keep");
            End(lease);
        });
        await PhaseAsync("raw-read-pending", async () =>
        {
            var lease = await pool.AcquireAsync(endPoint);
            await ExchangeAsync(lease, "/keep");
            var pending = lease.Stream.ReadAsync(new byte[16]).AsTask();
            End(lease);
            try
            {
                await pending.WaitAsync(TimeSpan.FromSeconds(10));
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
            {
                // The close ends the pending read.
            }
        });
        await PhaseAsync("raw-reset-read-by-caller", async () =>
        {
            var lease = await pool.AcquireAsync(endPoint);
            await ExchangeAsync(lease, "/reset");
            result["resetSeenByCaller"] = await ReadToEndAsync(lease);
            End(lease);
        });
        await PhaseAsync("raw-server-closes-first", async () =>
        {
            var lease = await pool.AcquireAsync(endPoint);
            await ExchangeAsync(lease, "/close");
            await ReadToEndAsync(lease);
            End(lease);
        });
        await PhaseAsync("raw-half-closed-peer-fin-in", async () =>
        {
            var lease = await pool.AcquireAsync(endPoint);
            await ExchangeAsync(lease, "/keep");
            lease.Socket.Shutdown(SocketShutdown.Send);
            await ReadToEndAsync(lease);
            End(lease);
        });
        await PhaseAsync("raw-bytes-unread", async () =>
        {
            var lease = await pool.AcquireAsync(endPoint);
            await lease.Stream.WriteAsync(Request("/keep"));
            await WaitUntilAsync(() => lease.Socket.Available > 0, TimeSpan.FromSeconds(5));
            End(lease);
        });

        result["poolTimeWait"] = pool.GetSnapshot().TotalTimeWait;
        result["ssTimeWait"] = SocketTable.TimeWaitTo(port);
        result["poolActive"] = pool.GetSnapshot().TotalActive;
        result["tcpTwReuse"] = File.ReadAllText("/proc/sys/net/ipv4/tcp_tw_reuse").Trim();
        return result;
    }

    private static async Task GetAllAsync(HttpClient client, IPEndPoint endPoint, string path)
    {
        var requests = Enumerable.Range(0, Parallel).Select(_ => client.GetStringAsync(new Uri($"http://{endPoint}{path}")));
        await Task.WhenAll(requests);
    }

    private static byte[] Request(string path) => Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");

    /// <summary>Sends one request and reads its whole response (headers and the 2-byte body).</summary>
    private static async Task ExchangeAsync(SocketLease lease, string path)
    {
        await lease.Stream.WriteAsync(Request(path));
        var buffer = new byte[1024];
        var seen = new StringBuilder();
        while (!seen.ToString().EndsWith("\r\n\r\nok", StringComparison.Ordinal))
        {
            var read = await lease.Stream.ReadAsync(buffer);
            if (read == 0)
            {
                throw new IOException("server closed before the response ended");
            }

            seen.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }
    }

    /// <summary>Reads until end of stream or an error; returns the error's name, or "eof".</summary>
    private static async Task<string> ReadToEndAsync(SocketLease lease)
    {
        var buffer = new byte[256];
        try
        {
            while (await lease.Socket.ReceiveAsync(buffer.AsMemory()) > 0)
            {
            }

            return "eof";
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode.ToString();
        }
    }

    private static void End(SocketLease lease)
    {
        lease.Invalidate();
        lease.Dispose();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < limit)
        {
            await Task.Delay(20);
        }
    }
}
