using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using StackExchange.Redis;
using TuplePool.Redis;

namespace TuplePool.Demo.Nat;

/// <summary>
/// The hidden modes this program runs in inside the NAT lab's namespaces (<c>--nat-child MODE ...</c>),
/// each writing one JSON line and then staying until its stdin ends (the demo is done, or gone):
/// <list type="bullet">
/// <item><c>server PORT...</c>: holds every connection on 0.0.0.0:PORT; answers <c>stats</c> with the most open at once per port.</item>
/// <item><c>plain HOST PORT COUNT TIMEOUT_MS</c>: COUNT plain connects at once; how many connected and how many timed out (a SYN the NAT dropped).</item>
/// <item><c>pool HOST PORT COUNT NAT_PORTS HOLD_MS CLOSE</c>: a pool with <see cref="TuplePoolOptions.Nat"/> set; COUNT acquires at once, CLOSE leases closed once the NAT is full; how each acquire ended.</item>
/// <item><c>fleet HOST PORT REQUESTS NAT_PORTS HOLD_MS REDIS FLEET INSTANCE</c>: one instance of a fleet (<see cref="RedisFleetBudget"/>); on <c>go</c>, REQUESTS callers each hold a lease for a moment and close it.</item>
/// </list>
/// </summary>
internal static class NatChild
{
    public const string Switch = "--nat-child";

    private static readonly TimeSpan LeaseHeld = TimeSpan.FromMilliseconds(400);

    public static async Task<int> RunAsync(string[] args)
    {
        // Ctrl+C in a terminal signals the whole process group, this child too: the demo removes
        // the lab and closes this child's stdin; dying first would only make its last reads fail.
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, static context => context.Cancel = true);
        try
        {
            var reply = args[1] switch
            {
                "server" => await ServeAsync(args[2..]),
                "plain" => await PlainAsync(args[2..]),
                "pool" => await PoolAsync(args[2..]),
                "fleet" => await FleetAsync(args[2..]),
                _ => new JsonObject { ["error"] = $"unknown mode {args[1]}" },
            };
            Write(reply);
            return 0;
        }
#pragma warning disable CA1031 // The parent shows the child's failure as its message.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Write(new JsonObject { ["error"] = $"{e.GetType().Name}: {e.Message}" });
            return 1;
        }
    }

    private static async Task<JsonObject> ServeAsync(string[] args)
    {
        var listeners = args.Select(p => ListenerPorts(int.Parse(p, CultureInfo.InvariantCulture))).ToList();
        var open = new ConcurrentDictionary<int, int>();
        var most = new ConcurrentDictionary<int, int>();
        foreach (var listener in listeners)
        {
            _ = Task.Run(() => AcceptAsync(listener, open, most));
        }

        Write(new JsonObject { ["listening"] = string.Join(' ', args) });
        while (await ReadLineAsync() is { } line)
        {
            if (line == "stats")
            {
                var stats = new JsonObject();
                foreach (var (port, count) in most)
                {
                    stats[port.ToString(CultureInfo.InvariantCulture)] = count;
                }

                Write(stats);
            }
        }

        foreach (var listener in listeners)
        {
            listener.Dispose();
        }

        return new JsonObject { ["stopped"] = true };
    }

    private static Socket ListenerPorts(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(new IPEndPoint(IPAddress.Any, port));
        listener.Listen(256);
        return listener;
    }

    private static async Task AcceptAsync(Socket listener, ConcurrentDictionary<int, int> open, ConcurrentDictionary<int, int> most)
    {
        var port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync();
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException)
            {
                return;
            }

            var now = open.AddOrUpdate(port, 1, static (_, n) => n + 1);
            most.AddOrUpdate(port, now, (_, m) => Math.Max(m, now));
            _ = Task.Run(async () =>
            {
                // Held until the client closes; the client closes first, so TIME_WAIT (and the NAT's hold) is on its side.
                var buffer = new byte[256];
                try
                {
                    while (await socket.ReceiveAsync(buffer) > 0)
                    {
                    }
                }
                catch (SocketException)
                {
                }
                finally
                {
                    open.AddOrUpdate(port, 0, static (_, n) => n - 1);
                    socket.Dispose();
                }
            });
        }
    }

    private static async Task<JsonObject> PlainAsync(string[] args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args[0]), Int(args[1]));
        var count = Int(args[2]);
        var timeout = TimeSpan.FromMilliseconds(Int(args[3]));
        var clock = Stopwatch.StartNew();
        var attempts = await Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            using var limit = new CancellationTokenSource(timeout);
            try
            {
                await socket.ConnectAsync(server, limit.Token);
                return (Outcome: "connected", Socket: (Socket?)socket, clock.Elapsed);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                socket.Dispose();
                var outcome = e is OperationCanceledException || e is SocketException { SocketErrorCode: SocketError.TimedOut } ? "timedOut" : ((SocketException)e).SocketErrorCode.ToString();
                return (Outcome: outcome, Socket: null, clock.Elapsed);
            }
        }));

        var reply = new JsonObject
        {
            ["connected"] = attempts.Count(a => a.Socket is not null),
            ["timedOut"] = attempts.Count(a => a.Outcome == "timedOut"),
            ["other"] = attempts.Count(a => a.Outcome is not ("connected" or "timedOut")),
            ["seconds"] = clock.Elapsed.TotalSeconds,
        };
        Write(reply);
        await WaitForEndAsync();
        foreach (var (_, socket, _) in attempts)
        {
            socket?.Dispose();
        }

        return new JsonObject { ["closed"] = true };
    }

    private static async Task<JsonObject> PoolAsync(string[] args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args[0]), Int(args[1]));
        var count = Int(args[2]);
        var natPorts = Int(args[3]);
        var close = Int(args[5]);
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            Nat = new NatOptions
            {
                PortsPerDestination = natPorts,
                HoldAfterClose = TimeSpan.FromMilliseconds(Int(args[4])),
                HoldAfterReset = DemoNatLab.HoldAfterReset,
            },
            CloseMode = CloseMode.Graceful,
            ConnectTimeout = TimeSpan.FromSeconds(2),
            AcquireTimeout = TimeSpan.FromSeconds(6),
        });

        var clock = Stopwatch.StartNew();
        var held = new ConcurrentQueue<SocketLease>();
        var full = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outcomes = new ConcurrentBag<(string Kind, TimeSpan Ended)>();
        var acquires = Task.WhenAll(Enumerable.Range(0, count).Select(async _ =>
        {
            try
            {
                var lease = await pool.AcquireAsync(server);
                held.Enqueue(lease);
                if (held.Count >= natPorts)
                {
                    full.TrySetResult();
                }

                outcomes.Add(("acquired", clock.Elapsed));
            }
            catch (TupleBudgetExhaustedException)
            {
                outcomes.Add(("budgetExhausted", clock.Elapsed));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                outcomes.Add(("synTimeout", clock.Elapsed));
            }
        }).ToList());

        // Once the NAT is full (every acquire still waiting is a typed wait, not a SYN in flight), CLOSE leases give their ports back after the hold.
        await Task.WhenAny(acquires, full.Task);
        var closedAt = clock.Elapsed;
        for (var i = 0; i < close && held.TryDequeue(out var lease); i++)
        {
            lease.Invalidate(); // closed (FIN), not returned: the NAT holds its port for HoldAfterClose
            lease.Dispose();
        }

        await acquires;
        var served = outcomes.Where(o => o.Kind == "acquired" && o.Ended > closedAt).ToList();
        var reply = new JsonObject
        {
            ["connected"] = outcomes.Count(o => o.Kind == "acquired" && o.Ended <= closedAt),
            ["servedAfterClose"] = served.Count,
            ["waitedSeconds"] = served.Count == 0 ? 0 : served.Max(o => o.Ended - closedAt).TotalSeconds,
            ["budgetExhausted"] = outcomes.Count(o => o.Kind == "budgetExhausted"),
            ["synTimeout"] = outcomes.Count(o => o.Kind == "synTimeout"),
        };
        while (held.TryDequeue(out var lease))
        {
            lease.Dispose();
        }

        return reply;
    }

    private static async Task<JsonObject> FleetAsync(string[] args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args[0]), Int(args[1]));
        var requests = Int(args[2]);
        var nat = new NatOptions
        {
            PortsPerDestination = Int(args[3]),
            HoldAfterClose = TimeSpan.FromMilliseconds(Int(args[4])),
            HoldAfterReset = DemoNatLab.HoldAfterReset,
        };
        await using var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { IPEndPoint.Parse(args[5]) },
            AbortOnConnectFail = false,
            ClientName = args[7],
        });
        await redis.GetDatabase().PingAsync();
        await using var budget = new RedisFleetBudget(redis, new RedisFleetOptions
        {
            FleetName = args[6],
            InstanceId = args[7],
            ExpectedInstances = 3,

            // Every port through Redis, in chunks of 2, leased for 2 s. The lab's Redis is new, so
            // there is no lost grant to wait out before the first one (RecoveryWindow).
            StaticShareFraction = 0,
            ChunkSize = 2,
            LeaseTime = TimeSpan.FromSeconds(2),
            RecoveryWindow = TimeSpan.Zero,
            WaitRetryInterval = TimeSpan.FromMilliseconds(100),
        });
        await using var pool = new SocketPool(
            new TuplePoolOptions { Nat = nat, CloseMode = CloseMode.Graceful, ConnectTimeout = TimeSpan.FromSeconds(2), AcquireTimeout = TimeSpan.FromSeconds(10) },
            budget);

        Write(new JsonObject { ["ready"] = budget.InstanceId });
        if (await ReadLineAsync() != "go")
        {
            return new JsonObject { ["stopped"] = true };
        }

        var clock = Stopwatch.StartNew();
        var outcomes = await Task.WhenAll(Enumerable.Range(0, requests).Select(async _ =>
        {
            try
            {
                using (var lease = await pool.AcquireAsync(server))
                {
                    await Task.Delay(LeaseHeld);
                    lease.Invalidate(); // a new connection per request: each close keeps a NAT port for the hold
                }

                return "served";
            }
            catch (TupleBudgetExhaustedException)
            {
                return "budgetExhausted";
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                return "synTimeout";
            }
        }));

        return new JsonObject
        {
            ["served"] = outcomes.Count(o => o == "served"),
            ["budgetExhausted"] = outcomes.Count(o => o == "budgetExhausted"),
            ["synTimeout"] = outcomes.Count(o => o == "synTimeout"),
            ["seconds"] = clock.Elapsed.TotalSeconds,
        };
    }

    private static int Int(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static void Write(JsonObject reply)
    {
        Console.Out.WriteLine(reply.ToJsonString());
        Console.Out.Flush();
    }

    /// <summary>The next line from the demo, or null once its end closed stdin.</summary>
    private static Task<string?> ReadLineAsync() => Task.Run(Console.In.ReadLine);

    private static async Task WaitForEndAsync()
    {
        while (await ReadLineAsync() is not null)
        {
        }
    }
}
