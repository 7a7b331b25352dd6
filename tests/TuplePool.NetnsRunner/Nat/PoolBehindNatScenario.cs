using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using TuplePool;

namespace TuplePool.NetnsRunner;

/// <summary>
/// <c>pool-behind-nat --host H --port P --nat-ports N --hold-after-close-ms C --hold-after-reset-ms R
/// --open K --close J --connect-timeout-ms T --acquire-timeout-ms A</c>, in a NAT lab client
/// namespace: a <see cref="SocketPool"/> with <see cref="TuplePoolOptions.Nat"/> set
/// (PortsPerDestination N, the holds matching the lab's conntrack timeouts) starts K acquires of
/// H:P at once and holds every lease it gets. Once min(K, N) are held (or every acquire has
/// ended), it closes J of them gracefully, so their NAT ports come back after the hold, and waits
/// for the rest. Every acquire's outcome, by what it ended with:
/// <c>connected</c> (before the closes), <c>servedAfterClose</c> (a wait served once ports freed),
/// <c>budgetExhausted</c> (<see cref="TupleBudgetExhaustedException"/>: a typed wait that ran out),
/// <c>synTimeout</c> (<see cref="SocketException"/> TimedOut: a SYN the NAT dropped), and any other
/// exception by type. Then one echo on every lease still held. With <c>--hold-leases 1</c> it
/// writes that report as a line (ControlChannel) and keeps its leases until stdin ends, so pools
/// on two hosts behind one NAT hold their connections at the same time.
/// </summary>
internal static class PoolBehindNatScenario
{
    public static async Task<JsonObject> RunAsync(RunnerArgs args)
    {
        var server = new IPEndPoint(IPAddress.Parse(args.Get("host")), args.GetInt("port"));
        var natPorts = args.GetInt("nat-ports");
        var open = args.GetInt("open");
        var close = args.GetInt("close");
        var nat = new NatOptions
        {
            PortsPerDestination = natPorts,
            HoldAfterClose = Milliseconds(args, "hold-after-close-ms"),
            HoldAfterReset = Milliseconds(args, "hold-after-reset-ms"),
        };
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            Nat = nat,
            ConnectTimeout = Milliseconds(args, "connect-timeout-ms"),
            AcquireTimeout = Milliseconds(args, "acquire-timeout-ms"),
            CloseMode = CloseMode.Graceful,
        });

        var clock = Stopwatch.StartNew();
        var held = new List<SocketLease>();
        var heldEnough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var enough = Math.Min(open, natPorts);

        async Task<Outcome> AcquireAsync()
        {
            var started = clock.Elapsed;
            try
            {
                var lease = await pool.AcquireAsync(server);
                int count;
                lock (held)
                {
                    held.Add(lease);
                    count = held.Count;
                }

                if (count >= enough)
                {
                    heldEnough.TrySetResult();
                }

                return new Outcome("acquired", started, clock.Elapsed, null);
            }
            catch (TupleBudgetExhaustedException e)
            {
                return new Outcome("budgetExhausted", started, clock.Elapsed, e.Message);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TimedOut)
            {
                return new Outcome("synTimeout", started, clock.Elapsed, e.Message);
            }
#pragma warning disable CA1031 // Every other ending is an outcome to report, by its type.
            catch (Exception e)
#pragma warning restore CA1031
            {
                var code = e is SocketException s ? $" {s.SocketErrorCode}" : "";
                return new Outcome($"{e.GetType().Name}{code}", started, clock.Elapsed, e.Message);
            }
        }

        // Every acquire starts here, before any close: each runs on this thread up to its first wait.
        var acquires = Task.WhenAll(Enumerable.Range(0, open).Select(_ => AcquireAsync()).ToList());
        await Task.WhenAny(acquires, heldEnough.Task);

        var closedAt = clock.Elapsed;
        List<SocketLease> closing;
        lock (held)
        {
            closing = held.GetRange(0, Math.Min(close, held.Count));
            held.RemoveRange(0, closing.Count);
        }

        foreach (var lease in closing)
        {
            lease.Invalidate(); // closed, not returned: its NAT port is held for HoldAfterClose
            lease.Dispose();
        }

        var outcomes = await acquires;
        var snapshot = pool.GetSnapshot().ToString();
        List<SocketLease> stillHeld;
        lock (held)
        {
            stillHeld = [.. held];
        }

        var echoes = await Task.WhenAll(stillHeld.Select((lease, i) => LineEcho.TryAsync(lease.Socket, i)));
        var report = Report(outcomes, closedAt, closing.Count, stillHeld.Count, echoes.Count(ok => ok), snapshot);
        if (args.GetInt("hold-leases", 0) == 1)
        {
            // Another host's pool behind the same NAT must meet these connections still open:
            // the report goes out now, the leases stay until the test ends stdin.
            ControlChannel.Write(report);
            while (await ControlChannel.ReadAsync() is not null)
            {
            }

            report = new JsonObject { ["released"] = stillHeld.Count };
        }

        foreach (var lease in stillHeld)
        {
            lease.Dispose();
        }

        return report;
    }

    private static JsonObject Report(Outcome[] outcomes, TimeSpan closedAt, int closed, int held, int echoed, string snapshot)
    {
        static string Kind(Outcome o, TimeSpan closedAt) => o.Kind != "acquired" ? o.Kind : o.Ended <= closedAt ? "connected" : "servedAfterClose";

        var counts = new JsonObject { ["connected"] = 0, ["servedAfterClose"] = 0, ["budgetExhausted"] = 0, ["synTimeout"] = 0 };
        var other = new JsonArray();
        var acquires = new JsonArray();
        var messages = new JsonObject();
        foreach (var outcome in outcomes.OrderBy(o => o.Ended))
        {
            var kind = Kind(outcome, closedAt);
            counts[kind] = (counts[kind] is { } n ? (int)n : 0) + 1;
            if (kind is not ("connected" or "servedAfterClose" or "budgetExhausted" or "synTimeout"))
            {
                other.Add($"{kind}: {outcome.Message}");
            }

            if (outcome.Message is not null && !messages.ContainsKey(kind))
            {
                messages[kind] = outcome.Message; // the first of each kind, for the test's output
            }

            acquires.Add(new JsonObject
            {
                ["outcome"] = kind,
                ["startedMs"] = Ms(outcome.Started),
                ["endedMs"] = Ms(outcome.Ended),
            });
        }

        return new JsonObject
        {
            ["outcomes"] = counts,
            ["other"] = other,
            ["closedAtMs"] = Ms(closedAt),
            ["closed"] = closed,
            ["held"] = held,
            ["echoed"] = echoed,
            ["acquires"] = acquires,
            ["messages"] = messages,
            ["snapshot"] = snapshot,
        };
    }

    private static TimeSpan Milliseconds(RunnerArgs args, string name) => TimeSpan.FromMilliseconds(args.GetInt(name));

    private static double Ms(TimeSpan time) => Math.Round(time.TotalMilliseconds, 1);

    private sealed record Outcome(string Kind, TimeSpan Started, TimeSpan Ended, string? Message);
}
