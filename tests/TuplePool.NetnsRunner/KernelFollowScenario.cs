using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using TuplePool;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>kernel-follow --port P [--late-look 1]</c>, in a namespace with <c>tcp_tw_reuse=0</c> and nftables: after
/// each way a peer can make our close last shorter or longer than a TIME_WAIT timer says, the
/// pool's after-close charge (<see cref="TupleUsage.TimeWait"/> + <see cref="TupleUsage.Closing"/>)
/// beside what <c>ss</c> shows for the tuple in FIN-WAIT-1/2, CLOSING, LAST-ACK or TIME-WAIT.
/// </summary>
/// <remarks>
/// Every pool keeps the default 60 s <see cref="TuplePoolOptions.TimeWaitDuration"/>, so a
/// timer-only ledger is wrong in each phase: it charges the closes that leave nothing (a response
/// arriving after our close resets the connection) for 60 s, and lets go at 60 s of the closes
/// the kernel keeps longer (a peer that delays its FIN, never reads, or died). The server's
/// behaviour is chosen by the first line a connection sends.
/// </remarks>
internal static class KernelFollowScenario
{
    private const int PerPhase = 4;

    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var port = args.GetInt("port");
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        using var server = new BehavingServer(endPoint);
        using var silentServer = new BehavingServer(new IPEndPoint(IPAddress.Loopback, port + 1));
        var phases = new JsonArray();
        var result = new JsonObject { ["phases"] = phases, ["tcpTwReuse"] = File.ReadAllText("/proc/sys/net/ipv4/tcp_tw_reuse").Trim() };

        await using (var pool = NewPool())
        {
            // The caller gives up on a response in flight: our FIN goes, the response arrives at a
            // closed socket, the kernel resets, nothing stays. A TIME_WAIT timer charges all four.
            await QuickPhaseAsync(phases, pool, port, "abandoned-response-in-flight", "abandon");
            await QuickPhaseAsync(phases, pool, port, "peer-closes-first", "first", readToEnd: true);
            await QuickPhaseAsync(phases, pool, port, "peer-resets", "reset", readToEnd: true);
            result["poolActiveQuick"] = pool.GetSnapshot().TotalActive;
        }

        await using (var pool = NewPool())
        {
            await LongPhasesAsync(phases, pool, port, lateLook: args.GetInt("late-look", 0) == 1);
            result["poolActive"] = pool.GetSnapshot().TotalActive;
        }

        return result;
    }

    private static SocketPool NewPool() => new(new TuplePoolOptions
    {
        CloseMode = CloseMode.Graceful,
        AcquireTimeout = TimeSpan.FromSeconds(10),
        ValidateOnAcquire = false,
    });

    /// <summary>Four connections closed after <paramref name="behaviour"/>; compared once the kernel has settled (a second).</summary>
    private static async Task QuickPhaseAsync(JsonArray phases, SocketPool pool, int port, string name, string behaviour, bool readToEnd = false)
    {
        foreach (var lease in await OpenAsync(pool, port, behaviour))
        {
            if (readToEnd)
            {
                await ReadToEndAsync(lease);
            }

            End(lease);
        }

        await Task.Delay(TimeSpan.FromSeconds(1)); // the late response's reset, the peer's FIN
        await UntilEqualAsync(pool, [port], TimeSpan.FromSeconds(5));
        Record(phases, pool, port, name);
    }

    /// <summary>
    /// The closes the kernel keeps longer than a timer would, all at once: a peer that delays its
    /// FIN 20 s (FIN-WAIT-2, then TIME-WAIT for 60 s from that FIN), a peer that never reads (our
    /// bytes and FIN sit in FIN-WAIT-1 behind its shut window), a peer that died silently (on its
    /// own port, where nftables drops all it sends: our FIN is retransmitted in FIN-WAIT-1).
    /// Compared 3 s after the close and, with <paramref name="lateLook"/>, again 62 s after it, when
    /// a 60 s timer has let them all go.
    /// </summary>
    private static async Task LongPhasesAsync(JsonArray phases, SocketPool pool, int port, bool lateLook)
    {
        var silentPort = port + 1;
        var delayed = await OpenAsync(pool, port, "delayfin");
        var unread = await OpenAsync(pool, port, "noread");
        var silent = await OpenAsync(pool, silentPort, "silent");
        foreach (var lease in unread)
        {
            await FillAsync(lease);
        }

        Nft($"add table inet kernelfollow\nadd chain inet kernelfollow out {{ type filter hook output priority 0; }}\nadd rule inet kernelfollow out tcp sport {silentPort} drop\n");
        try
        {
            var closedAt = Stopwatch.StartNew();
            foreach (var lease in delayed.Concat(unread).Concat(silent))
            {
                End(lease);
            }

            await Task.Delay(TimeSpan.FromSeconds(3));
            await UntilEqualAsync(pool, [port, silentPort], TimeSpan.FromSeconds(5));
            Record(phases, pool, port, "delayed-fin-and-unread-at-3s");
            Record(phases, pool, silentPort, "died-silently-at-3s");

            if (!lateLook)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromSeconds(62) - closedAt.Elapsed);
            await UntilEqualAsync(pool, [port, silentPort], TimeSpan.FromSeconds(17)); // the ledger asks again at most 16 s apart
            Record(phases, pool, port, "delayed-fin-and-unread-at-62s");
            Record(phases, pool, silentPort, "died-silently-at-62s");
        }
        finally
        {
            Nft("delete table inet kernelfollow\n");
        }
    }

    private static async Task<List<SocketLease>> OpenAsync(SocketPool pool, int port, string behaviour)
    {
        var destination = new IPEndPoint(IPAddress.Loopback, port);
        var leases = new List<SocketLease>();
        for (var i = 0; i < PerPhase; i++)
        {
            var lease = await pool.AcquireAsync(destination);
            await lease.Stream.WriteAsync(Encoding.ASCII.GetBytes(behaviour + "\n"));
            await ReadLineAsync(lease); // the server's "ok": it has the connection and its behaviour
            leases.Add(lease);
        }

        return leases;
    }

    private static void End(SocketLease lease)
    {
        lease.Invalidate();
        lease.Dispose();
    }

    private static async Task UntilEqualAsync(SocketPool pool, int[] ports, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (ports.Any(p => AfterClose(pool, p) != SocketTable.AfterCloseTo(p)) && clock.Elapsed < limit)
        {
            await Task.Delay(50);
        }
    }

    private static void Record(JsonArray phases, SocketPool pool, int port, string name)
    {
        var states = SocketTable.ClientSocketsTo(port);
        phases.Add(new JsonObject
        {
            ["name"] = name,
            ["pool"] = AfterClose(pool, port),
            ["ss"] = SocketTable.AfterCloseTo(port),
            ["ssStates"] = string.Join(",", states.OrderBy(s => s.Key, StringComparer.Ordinal).Select(s => $"{s.Key}={s.Value}")),
            ["poolActive"] = pool.GetSnapshot().TotalActive,
        });
    }

    /// <summary>The pool's after-close charge on tuples to <paramref name="port"/>.</summary>
    private static int AfterClose(SocketPool pool, int port)
        => pool.GetSnapshot().Tuples.Where(t => t.Destination.Port == port).Sum(t => t.TimeWait + t.Closing);

    private static async Task ReadLineAsync(SocketLease lease)
    {
        var one = new byte[1];
        while (await lease.Stream.ReadAsync(one) == 1 && one[0] != (byte)'\n')
        {
        }
    }

    private static async Task ReadToEndAsync(SocketLease lease)
    {
        var buffer = new byte[256];
        try
        {
            while (await lease.Socket.ReceiveAsync(buffer.AsMemory()) > 0)
            {
            }
        }
        catch (SocketException)
        {
            // The reset the peer sent.
        }
    }

    /// <summary>Writes until the kernel takes no more (the peer does not read): bytes stay queued.</summary>
    private static async Task FillAsync(SocketLease lease)
    {
        var chunk = new byte[64 * 1024];
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        try
        {
            while (true)
            {
                await lease.Socket.SendAsync(chunk.AsMemory(), SocketFlags.None, stop.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // The send buffer is full.
        }
    }

    private static void Nft(string ruleset)
    {
        using var nft = Process.Start(new ProcessStartInfo("nft", "-f -") { RedirectStandardInput = true, UseShellExecute = false })
            ?? throw new InvalidOperationException("nft did not start");
        nft.StandardInput.Write(ruleset);
        nft.StandardInput.Close();
        nft.WaitForExit();
        if (nft.ExitCode != 0)
        {
            throw new InvalidOperationException($"nft failed ({nft.ExitCode}) on: {ruleset}");
        }
    }

    /// <summary>A server that does to each connection what its first line asks.</summary>
    private sealed class BehavingServer : IDisposable
    {
        private readonly Socket _listener;
        private readonly List<Socket> _held = [];
        private readonly CancellationTokenSource _stop = new();

        public BehavingServer(IPEndPoint endPoint)
        {
            _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            _listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            _listener.Bind(endPoint);
            _listener.Listen(128);
            _ = AcceptAsync();
        }

        public void Dispose()
        {
            _stop.Cancel();
            _listener.Dispose();
            lock (_held)
            {
                foreach (var socket in _held)
                {
                    socket.Dispose();
                }
            }
        }

        private async Task AcceptAsync()
        {
            while (!_stop.IsCancellationRequested)
            {
                Socket accepted;
                try
                {
                    accepted = await _listener.AcceptAsync(_stop.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
                {
                    return;
                }

                lock (_held)
                {
                    _held.Add(accepted);
                }

                _ = ServeAsync(accepted);
            }
        }

        private async Task ServeAsync(Socket socket)
        {
            try
            {
                var line = await ReadLineAsync(socket);
                if (line == "noread")
                {
                    socket.ReceiveBufferSize = 4096; // a small window, shut soon
                }

                await socket.SendAsync(Encoding.ASCII.GetBytes("ok\n"), SocketFlags.None);
                switch (line)
                {
                    case "abandon":
                        await Task.Delay(300);
                        await socket.SendAsync(new byte[16 * 1024], SocketFlags.None); // after the client's close
                        await DrainAsync(socket);
                        socket.Dispose();
                        break;
                    case "first":
                        socket.Dispose(); // FIN from this side first
                        break;
                    case "reset":
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Dispose(); // RST
                        break;
                    case "delayfin":
                        await DrainAsync(socket); // until the client's FIN
                        await Task.Delay(TimeSpan.FromSeconds(20));
                        socket.Dispose();
                        break;
                    case "noread":
                    case "silent":
                        break; // held open, never read, until the server goes
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // The client reset it: nothing more to do.
            }
        }

        private static async Task<string> ReadLineAsync(Socket socket)
        {
            var line = new StringBuilder();
            var one = new byte[1];
            while (await socket.ReceiveAsync(one.AsMemory(), SocketFlags.None) == 1 && one[0] != (byte)'\n')
            {
                line.Append((char)one[0]);
            }

            return line.ToString();
        }

        private static async Task DrainAsync(Socket socket)
        {
            var buffer = new byte[4096];
            while (await socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None) > 0)
            {
            }
        }
    }
}
