using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using StackExchange.Redis;
using TuplePool;
using TuplePool.Redis;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>pool-in-fleet --host H --port P --redis ADDR:PORT --fleet NAME --instance ID --nat-ports N
/// --expected-instances E --chunk C --lease-ms L --hold-after-close-ms HC --hold-after-reset-ms HR
/// --connect-timeout-ms T --acquire-timeout-ms A</c>, in a NAT lab client namespace: one instance
/// of a fleet behind the lab's NAT. A <see cref="SocketPool"/> with <see cref="TuplePoolOptions.Nat"/>
/// set to the NAT's whole range (N ports, conntrack's holds) draws its share from a
/// <see cref="RedisFleetBudget"/> on the lab's Redis (every port through Redis: no static share,
/// so a crashed instance's ports all come back through Redis, and no recovery window for the
/// fleet's first start). Writes <c>{"ready": ...}</c> once Redis answers, then one JSON line per
/// command (ControlChannel):
/// <list type="bullet">
/// <item><c>acquire K</c>: K callers that each acquire H:P and hold the lease; one whose wait ran out
/// (<see cref="TupleBudgetExhaustedException"/>, a typed wait) counts a refusal and asks again.</item>
/// <item><c>status</c>: <c>held</c>, <c>waiting</c>, <c>served</c> (with <c>servedAtMs</c>, Unix ms of
/// each), <c>refusals</c>, <c>synTimeouts</c> (a SYN the NAT dropped: the fleet opened past its
/// ports), <c>other</c> errors, the budget's grant and the pool's NAT usage.</item>
/// <item><c>close K</c>: K held leases closed gracefully (FIN: the NAT holds each port for its hold).</item>
/// <item><c>cancel</c>: the callers still waiting give up.</item>
/// </list>
/// At the end of stdin it closes everything; a SIGKILL leaves its Redis record to expire.
/// </summary>
internal static class PoolInFleetScenario
{
    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args.Get("host")), args.GetInt("port"));
        var redisEndPoint = IPEndPoint.Parse(args.Get("redis"));
        var nat = new NatOptions
        {
            PortsPerDestination = args.GetInt("nat-ports"),
            HoldAfterClose = Milliseconds(args, "hold-after-close-ms"),
            HoldAfterReset = Milliseconds(args, "hold-after-reset-ms"),
        };

        await using var redis = await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
        {
            EndPoints = { redisEndPoint },
            AbortOnConnectFail = false,
            ConnectTimeout = 2000,
            ClientName = args.Get("instance"),
            ReconnectRetryPolicy = new LinearRetry(100),
        });
        await redis.GetDatabase().PingAsync();

        var budget = new RedisFleetBudget(redis, new RedisFleetOptions
        {
            FleetName = args.Get("fleet"),
            InstanceId = args.Get("instance"),
            ExpectedInstances = args.GetInt("expected-instances"),
            StaticShareFraction = 0,
            ChunkSize = args.GetInt("chunk"),
            LeaseTime = Milliseconds(args, "lease-ms"),
            RecoveryWindow = TimeSpan.Zero,
            WaitRetryInterval = TimeSpan.FromMilliseconds(100),
        });
        await using var budgetOwner = budget;
        await using var pool = new SocketPool(
            new TuplePoolOptions
            {
                Nat = nat,
                ConnectTimeout = Milliseconds(args, "connect-timeout-ms"),
                AcquireTimeout = Milliseconds(args, "acquire-timeout-ms"),
                CloseMode = CloseMode.Graceful,
            },
            budget);

        var callers = new FleetCallers(pool, server);
        try
        {
            ControlChannel.Write(new JsonObject { ["ready"] = budget.InstanceId });
            while (await ControlChannel.ReadAsync() is { } line)
            {
                var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                ControlChannel.Write(words switch
                {
                    ["acquire", var n] => callers.Start(int.Parse(n, System.Globalization.CultureInfo.InvariantCulture)),
                    ["status"] => callers.Status(budget.GetGrant(server), budget.Status.ToString()),
                    ["close", var n] => callers.Close(int.Parse(n, System.Globalization.CultureInfo.InvariantCulture)),
                    ["cancel"] => await callers.CancelAsync(),
                    _ => new JsonObject { ["error"] = $"unknown command '{line}'; known: acquire N, status, close N, cancel" },
                });
            }

            await callers.CancelAsync();
            return new JsonObject { ["closedAtEnd"] = callers.CloseAll() };
        }
        finally
        {
            callers.CloseAll();
        }
    }

    private static TimeSpan Milliseconds(RunnerArgs args, string name) => TimeSpan.FromMilliseconds(args.GetInt(name));

    /// <summary>The callers of one instance and what became of them.</summary>
    private sealed class FleetCallers(SocketPool pool, IPEndPoint server)
    {
        private readonly object _gate = new();
        private readonly List<SocketLease> _held = [];
        private readonly List<long> _servedAt = [];
        private readonly List<string> _other = [];
        private readonly List<Task> _running = [];
        private CancellationTokenSource _cancel = new();
        private int _waiting;
        private int _refusals;
        private int _synTimeouts;

        public JsonObject Start(int count)
        {
            lock (_gate)
            {
                _waiting += count;
                var token = _cancel.Token;
                for (var i = 0; i < count; i++)
                {
                    _running.Add(Task.Run(() => CallAsync(token)));
                }
            }

            return new JsonObject { ["started"] = count };
        }

        public JsonObject Status(int grant, string fleetStatus)
        {
            var nat = pool.GetSnapshot().Nat.FirstOrDefault();
            lock (_gate)
            {
                return new JsonObject
                {
                    ["held"] = _held.Count,
                    ["waiting"] = _waiting,
                    ["served"] = _servedAt.Count,
                    ["servedAtMs"] = new JsonArray([.. _servedAt.Select(t => JsonValue.Create(t))]),
                    ["refusals"] = _refusals,
                    ["synTimeouts"] = _synTimeouts,
                    ["other"] = new JsonArray([.. _other.Select(e => JsonValue.Create(e))]),
                    ["grant"] = grant,
                    ["fleet"] = fleetStatus,
                    ["natActive"] = nat?.Active ?? 0,
                    ["natHolding"] = nat?.Holding ?? 0,
                    ["nat"] = nat?.ToString(),
                };
            }
        }

        public JsonObject Close(int count)
        {
            List<SocketLease> closing;
            lock (_gate)
            {
                closing = _held.GetRange(0, Math.Min(count, _held.Count));
                _held.RemoveRange(0, closing.Count);
            }

            foreach (var lease in closing)
            {
                lease.Invalidate(); // closed, not returned: the NAT holds its port for HoldAfterClose
                lease.Dispose();
            }

            lock (_gate)
            {
                return new JsonObject { ["closed"] = closing.Count, ["held"] = _held.Count, ["closedAtMs"] = Now() };
            }
        }

        public async Task<JsonObject> CancelAsync()
        {
            int waiting;
            CancellationTokenSource cancel;
            Task[] running;
            lock (_gate)
            {
                // Callers started later get a new source: cancel ends only those that wait now.
                waiting = _waiting;
                cancel = _cancel;
                _cancel = new CancellationTokenSource();
                running = [.. _running];
                _running.Clear();
            }

            await cancel.CancelAsync();
            await Task.WhenAll(running);
            cancel.Dispose();
            return new JsonObject { ["cancelled"] = waiting };
        }

        public int CloseAll() => (int)Close(int.MaxValue)["closed"]!;

        private async Task CallAsync(CancellationToken cancel)
        {
            while (!cancel.IsCancellationRequested)
            {
                try
                {
                    var lease = await pool.AcquireAsync(server, cancel);
                    lock (_gate)
                    {
                        _held.Add(lease);
                        _servedAt.Add(Now());
                        _waiting--;
                    }

                    return;
                }
                catch (TupleBudgetExhaustedException)
                {
                    Count(ref _refusals);
                }
                catch (OperationCanceledException) when (cancel.IsCancellationRequested)
                {
                    break;
                }
                catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
                {
                    Count(ref _synTimeouts);
                }
#pragma warning disable CA1031 // Every other ending is an outcome to report.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    lock (_gate)
                    {
                        _other.Add($"{e.GetType().Name}: {e.Message}");
                    }

                    await Task.Delay(100);
                }
            }

            lock (_gate)
            {
                _waiting--;
            }
        }

        private void Count(ref int counter)
        {
            lock (_gate)
            {
                counter++;
            }
        }

        private static long Now() => TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
    }
}
