using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using TuplePool;

namespace TuplePool.NetnsRunner;

/// <summary>
/// Faults on real sockets (SYNs dropped, idle connections dropped, resets, restarts, a source
/// address removed, the open-file limit, tcp_tw_reuse), each reporting named checks:
/// <c>{"scenario", "ok", "checks": [{name, ok, detail}], "figures"}</c>, with <c>"error"</c> beside
/// the checks made so far when the scenario crashed. The fault tests assert every check.
/// </summary>
internal static partial class FaultScenarios
{
    public static readonly IReadOnlyDictionary<string, Func<RunnerArgs, Task<JsonObject>>> All = new Dictionary<string, Func<RunnerArgs, Task<JsonObject>>>(StringComparer.Ordinal)
    {
        ["syn-drop"] = _ => RunAsync("syn-drop", SynDropAsync),
        ["idle-drop"] = _ => RunAsync("idle-drop", IdleDropAsync),
        ["rst"] = _ => RunAsync("rst", ResetMidRequestAsync),
        ["restart"] = _ => RunAsync("restart", ServerRestartAsync),
        ["source-removed"] = _ => RunAsync("source-removed", SourceRemovedAsync),
        ["fd-limit"] = _ => RunAsync("fd-limit", FileLimitAsync),
        ["fd-limit-client"] = _ => RunAsync("fd-limit-client", FileLimitClientAsync), // started by fd-limit
        ["tw-reuse"] = args => // --mode 0|1|2
        {
            var mode = args.GetInt("mode");
            return RunAsync($"tw-reuse {mode}", report => TimeWaitReuseAsync(report, mode));
        },
    };

    private static readonly IPAddress Server = IPAddress.Loopback;
    private static readonly IPAddress S2 = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress S3 = IPAddress.Parse("127.0.0.3");
    private static readonly PortRange Slice = new(40000, 40049);
    private static readonly TimeSpan SynTimeout = TimeSpan.FromMilliseconds(500);

    private static async Task<JsonObject> RunAsync(string name, Func<Report, Task> scenario)
    {
        var report = new Report(name);
        string? error = null;
        try
        {
            await scenario(report).WaitAsync(TimeSpan.FromMinutes(3));
        }
#pragma warning disable CA1031 // A crash is reported beside the checks made so far.
        catch (Exception e)
#pragma warning restore CA1031
        {
            error = e.ToString();
        }
        finally
        {
            Shell.Flush();
        }

        return report.ToJson(error);
    }

    private static SocketPool Pool(Action<TuplePoolOptions> configure)
    {
        // A generous connect timeout: a loaded two-core machine can take a while to schedule a
        // loopback handshake, and only the SYN-drop scenario is about the timeout itself.
        var options = new TuplePoolOptions { LocalPortRange = Slice, AcquireTimeout = TimeSpan.FromSeconds(10), ConnectTimeout = TimeSpan.FromSeconds(5) };
        configure(options);
        return new SocketPool(options);
    }

    /// <summary>One request/response on the lease; false (never a throw) when the connection is dead.</summary>
    private static async Task<bool> EchoAsync(SocketLease lease)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            var sent = new byte[] { 1, 2, 3, 4 };
            await lease.Socket.SendAsync(sent, SocketFlags.None, cts.Token);
            var received = new byte[4];
            var total = 0;
            while (total < 4)
            {
                var read = await lease.Socket.ReceiveAsync(received.AsMemory(total), SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return false;
                }

                total += read;
            }

            return received.AsSpan().SequenceEqual(sent);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            return false;
        }
    }

    private static void WriteSysctl(string name, int value)
        => File.WriteAllText("/proc/sys/net/ipv4/" + name, value.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static string Describe(Exception e) => e is SocketException s ? $"{e.GetType().Name}({s.SocketErrorCode}): {e.Message}" : $"{e.GetType().Name}: {e.Message}";

    // SYN dropped: the connect times out with a clear error, its budget is released, and the
    // pool tries the other source / the other address of the name.
    public static async Task SynDropAsync(Report report)
    {
        await using var server = new EchoServer(new IPEndPoint(IPAddress.IPv6Any, 20001)); // dual stack: 127.0.0.1 and ::1
        Shell.Nft("ip saddr 127.0.0.2 tcp flags & (syn | ack) == syn drop\n ip daddr 127.0.0.1 tcp dport 20001 ip saddr 127.0.0.1 tcp flags & (syn | ack) == syn drop");
        var destination = new IPEndPoint(Server, 20001);

        // One of two sources black-holed: every caller is served by the other.
        await using (var pool = Pool(o => { o.SourceAddresses = [S2, S3]; o.ConnectTimeout = SynTimeout; }))
        {
            var leases = new List<SocketLease>();
            var errors = new List<string>();
            var watch = Stopwatch.StartNew();
            for (var i = 0; i < 10; i++)
            {
                try
                {
                    leases.Add(await pool.AcquireAsync(destination));
                }
                catch (Exception e)
                {
                    errors.Add(Describe(e));
                }
            }

            report.Figure("twoSources.seconds", watch.Elapsed.TotalSeconds);
            report.Check("other source tried: 10 of 10 callers served", leases.Count == 10, $"{leases.Count} leases; errors: {string.Join(" | ", errors.Distinct())}");
            report.Check("served from the source that answers", leases.Count > 0 && leases.TrueForAll(l => l.LocalEndPoint.Address.Equals(S3)), string.Join(",", leases.Select(l => l.LocalEndPoint.Address).Distinct()));
            var dropped = pool.GetSnapshot().Tuples.FirstOrDefault(t => t.Source.Equals(S2));
            report.Check("black-holed source's budget released", dropped is null || dropped.Active == 0, dropped?.ToString() ?? "no ledger");
            leases.ForEach(l => l.Dispose());
        }

        // The only source black-holed: a clear, typed error within the connect timeout.
        await using (var pool = Pool(o => { o.SourceAddresses = [S2]; o.ConnectTimeout = SynTimeout; }))
        {
            var watch = Stopwatch.StartNew();
            Exception? failure = null;
            try
            {
                (await pool.AcquireAsync(destination)).Dispose();
            }
            catch (Exception e)
            {
                failure = e;
            }

            report.Check(
                "connect timeout is a SocketException(TimedOut) naming ConnectTimeout",
                failure is SocketException { SocketErrorCode: SocketError.TimedOut } && failure.Message.Contains("ConnectTimeout", StringComparison.Ordinal),
                failure is null ? "no error" : Describe(failure));
            report.Check("it comes within the acquire timeout", watch.Elapsed < TimeSpan.FromSeconds(10), $"{watch.Elapsed.TotalSeconds:0.00} s");
            var usage = pool.GetSnapshot().Tuples.FirstOrDefault(t => t.Source.Equals(S2));
            report.Check("its budget is released", usage is null || (usage.Active == 0 && usage.Remaining == usage.Capacity), usage?.ToString() ?? "no ledger");
            report.Check("no half-open socket left (ss: SYN-SENT from 127.0.0.2)", Shell.SsCount("syn-sent", "127.0.0.2", "127.0.0.1", 20001) == 0, "");
        }

        // A name with two addresses, the IPv4 one black-holed: the IPv6 one serves.
        await using (var pool = Pool(o => o.ConnectTimeout = SynTimeout))
        {
            Exception? failure = null;
            IPEndPoint? remote = null;
            try
            {
                await using var lease = await pool.AcquireAsync(new DnsEndPoint("tpfault-dual", 20001));
                remote = lease.RemoteEndPoint;
                report.Check("the lease to the other address works", await EchoAsync(lease), remote.ToString());
            }
            catch (Exception e)
            {
                failure = e;
            }

            report.Check("other address tried: tpfault-dual (127.0.0.1, ::1) served by ::1", failure is null && remote?.Address.Equals(IPAddress.IPv6Loopback) == true, failure is null ? $"{remote}" : Describe(failure));
        }
    }

    // An idle connection silently dropped mid-path: keepalive finds it dead, it is never lent.
    public static async Task IdleDropAsync(Report report)
    {
        await using var server = new EchoServer(new IPEndPoint(Server, 20001));
        var destination = server.EndPoint;
        await using var pool = Pool(o =>
        {
            o.SourceAddresses = [S2];
            o.CloseMode = CloseMode.Abortive;
            o.IdleTimeout = TimeSpan.FromMinutes(5);
            o.KeepAlive = new TcpKeepAlive { Time = TimeSpan.FromSeconds(1), Interval = TimeSpan.FromSeconds(1), RetryCount = 2 };
        });

        var first = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => pool.AcquireAsync(destination).AsTask()));
        var echoed = await Task.WhenAll(first.Select(EchoAsync));
        report.Check("three connections work before the fault", echoed.All(e => e), string.Join(",", echoed));
        foreach (var lease in first)
        {
            lease.Dispose();
        }

        report.Figure("idleBeforeFault", pool.GetSnapshot().TotalIdle);

        // Mid-path silence: nothing in or out on the server's port, and the server forgets
        // the connections (its RSTs are dropped too). Only keepalive can notice.
        Shell.Nft("tcp dport 20001 drop\n tcp sport 20001 drop");
        server.AbortAll();

        // Keepalive gives up after Time + RetryCount x Interval = 3 s; a kernel timer, so wait for it.
        await Task.Delay(TimeSpan.FromSeconds(5));
        Shell.Flush();

        var second = new List<SocketLease>();
        var errors = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            try
            {
                second.Add(await pool.AcquireAsync(destination));
            }
            catch (Exception e)
            {
                errors.Add(Describe(e));
            }
        }

        var reused = second.Count(l => l.IsReused);
        var works = await Task.WhenAll(second.Select(EchoAsync));
        report.Check("no dead connection lent (IsReused false for all three)", reused == 0 && second.Count == 3, $"{reused} reused of {second.Count}; errors: {string.Join(" | ", errors)}");
        report.Check("the replacements work", works.All(w => w) && works.Length == 3, string.Join(",", works));
        second.ForEach(l => l.Dispose());
    }

    // RST in mid-request: the caller sees the reset, the socket is never lent again, and the
    // ledger agrees with `ss` (tcp_tw_reuse=0 here, so a TIME_WAIT charge lasts as long as the kernel's).
    public static async Task ResetMidRequestAsync(Report report)
    {
        WriteSysctl("tcp_tw_reuse", 0);
        await using var server = new EchoServer(new IPEndPoint(Server, 20001));
        var destination = server.EndPoint;
        await using var pool = Pool(o => o.SourceAddresses = [S2]);

        var lease = await pool.AcquireAsync(destination);
        report.Check("first request answered", await EchoAsync(lease), "");
        lease.Dispose();

        server.ResetNextRequests = 1;
        lease = await pool.AcquireAsync(destination);
        var answered = await EchoAsync(lease);
        report.Check("the request the server resets fails for the caller", !answered && lease.IsReused, $"answered={answered}, reused={lease.IsReused}");
        lease.Dispose(); // a careless caller: no Invalidate

        lease = await pool.AcquireAsync(destination);
        report.Check("the reset socket is not lent again", !lease.IsReused, $"reused={lease.IsReused}, local={lease.LocalEndPoint}");
        report.Check("the next request works", await EchoAsync(lease), "");

        // Our graceful close of a healthy socket: one TIME_WAIT, charged and shown by ss.
        lease.Invalidate();
        lease.Dispose();
        var ss = await WaitForSsAsync("time-wait", "127.0.0.2", "127.0.0.1", 20001, 1);
        var snapshot = pool.GetSnapshot();
        report.Check("ledger TIME_WAIT equals ss TIME_WAIT", snapshot.TotalTimeWait == ss, $"pool {snapshot.TotalTimeWait}, ss {ss}");
        report.Check("nothing left active", snapshot.TotalActive == 0 && snapshot.TotalIdle == 0, snapshot.Tuples.FirstOrDefault()?.ToString() ?? "");
    }

    // The server restarted under load: every idle socket is dead, none is lent, IsReused tells the caller.
    public static async Task ServerRestartAsync(Report report)
    {
        await using var server = new EchoServer(new IPEndPoint(Server, 20001));
        var destination = server.EndPoint;
        await using var pool = Pool(o =>
        {
            o.SourceAddresses = [S2, S3];
            o.CloseMode = CloseMode.Abortive;
            o.MaxIdlePerDestination = 16;
        });

        var untyped = 0;
        var failedFresh = 0;
        var failedReused = 0;
        var requests = 0;
        async Task LoadAsync(int rounds, Func<int, Task>? midway = null)
        {
            await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
            {
                for (var i = 0; i < rounds; i++)
                {
                    if (worker == 0 && midway is not null)
                    {
                        await midway(i);
                    }

                    SocketLease lease;
                    try
                    {
                        lease = await pool.AcquireAsync(destination);
                    }
                    catch (SocketException)
                    {
                        continue; // refused while the server was down: typed, the caller's to retry
                    }
                    catch (Exception)
                    {
                        Interlocked.Increment(ref untyped);
                        continue;
                    }

                    Interlocked.Increment(ref requests);
                    if (!await EchoAsync(lease))
                    {
                        Interlocked.Increment(ref lease.IsReused ? ref failedReused : ref failedFresh);
                        lease.Invalidate();
                    }

                    lease.Dispose();
                }
            })));
        }

        await LoadAsync(50);
        var idle = pool.GetSnapshot().TotalIdle;
        report.Figure("idleAtRestart", idle);

        // Restart between two waves: every idle socket is dead when the second wave starts.
        await server.StopAsync();
        server.Start();
        var reusedBefore = failedReused;
        await LoadAsync(50);
        report.Check("no dead idle socket lent after the restart", failedReused == reusedBefore && failedFresh == 0, $"{idle} idle at restart; reused that failed {failedReused - reusedBefore}, fresh that failed {failedFresh}");

        // Restart in the middle of the load: requests in flight may fail, but only on I/O, and
        // the pool recovers.
        await LoadAsync(60, async i =>
        {
            if (i == 30)
            {
                await server.StopAsync();
                server.Start();
            }
        });
        report.Figure("requests", requests);
        report.Figure("failedInFlightReused", failedReused);
        report.Figure("failedInFlightFresh", failedFresh);
        report.Check("no untyped errors from AcquireAsync", untyped == 0, $"{untyped}");

        var snapshot = pool.GetSnapshot();
        report.Check("nothing left active", snapshot.TotalActive == 0, $"{snapshot.TotalActive}");
        var settled = await WaitAsync(() => server.Open == pool.GetSnapshot().TotalIdle);
        report.Check("pool idle equals server open", settled, $"pool {pool.GetSnapshot().TotalIdle}, server {server.Open}");
    }

    // A source address removed from the host at run time: quarantined, back when re-added.
    public static async Task SourceRemovedAsync(Report report)
    {
        // Narrow lo to 127.0.0.1 so 127.0.0.8/.9 are local only while they sit on the veth.
        Shell.Run("ip", "addr del 127.0.0.1/8 dev lo");
        Shell.Run("ip", "addr add 127.0.0.1/32 dev lo");
        Shell.Run("ip", "link add tpv0 type veth peer name tpv1");
        Shell.Run("ip", "link set tpv0 up");
        Shell.Run("ip", "link set tpv1 up");
        Shell.Run("ip", "addr add 127.0.0.8/32 dev tpv0");
        Shell.Run("ip", "addr add 127.0.0.9/32 dev tpv0");
        var s8 = IPAddress.Parse("127.0.0.8");
        var s9 = IPAddress.Parse("127.0.0.9");

        await using var server = new EchoServer(new IPEndPoint(Server, 20001));
        await using var pool = Pool(o =>
        {
            o.SourceAddresses = [s8, s9];
            o.SourceSelection = SourceSelectionMode.RoundRobin;
            o.SourceQuarantine = TimeSpan.FromSeconds(1);
            o.CloseMode = CloseMode.Abortive;
        });

        async Task<(List<IPAddress> Sources, List<string> Errors)> ConnectAsync(int count)
        {
            var sources = new List<IPAddress>();
            var errors = new List<string>();
            for (var i = 0; i < count; i++)
            {
                try
                {
                    await using var lease = await pool.AcquireAsync(server.EndPoint);
                    sources.Add(lease.LocalEndPoint.Address);
                    lease.Invalidate(); // a new connection each time, from the next source
                }
                catch (Exception e)
                {
                    errors.Add(Describe(e));
                }
            }

            return (sources, errors);
        }

        var before = await ConnectAsync(10);
        report.Check("both sources serve at first", before.Sources.Contains(s8) && before.Sources.Contains(s9), string.Join(",", before.Sources.Distinct()) + string.Join(" | ", before.Errors));

        Shell.Run("ip", "addr del 127.0.0.9/32 dev tpv0");
        var removed = await ConnectAsync(10);
        report.Check("with 127.0.0.9 removed every caller is served", removed.Errors.Count == 0 && removed.Sources.Count == 10, string.Join(" | ", removed.Errors.Distinct()));
        report.Check("and only from 127.0.0.8", removed.Sources.TrueForAll(s => s.Equals(s8)), string.Join(",", removed.Sources.Distinct()));

        Shell.Run("ip", "addr add 127.0.0.9/32 dev tpv0");
        await Task.Delay(TimeSpan.FromSeconds(1.5)); // the 1 s quarantine, on the real clock
        var back = await ConnectAsync(20);
        report.Check("127.0.0.9 serves again once re-added", back.Sources.Contains(s9) && back.Errors.Count == 0, string.Join(",", back.Sources.Distinct()) + " " + string.Join(" | ", back.Errors.Distinct()));
    }

    // tcp_tw_reuse 0, 1, 2: what the ledger charges after our graceful closes is what the
    // kernel holds against new connections, and the kernel agrees when we try.
    public static async Task TimeWaitReuseAsync(Report report, int mode)
    {
        WriteSysctl("tcp_tw_reuse", mode);
        Shell.Run("ip", "link add tpv0 type veth peer name tpv1");
        Shell.Run("ip", "link set tpv0 up");
        Shell.Run("ip", "link set tpv1 up");
        Shell.Run("ip", "addr add 198.18.0.1/32 dev tpv0");
        Shell.Run("ip", "addr add 198.18.0.2/32 dev tpv0");

        foreach (var (name, source, destination, port, loopback) in new[]
        {
            ("loopback", "127.0.0.2", "127.0.0.1", 20001, true),
            ("non-loopback", "198.18.0.2", "198.18.0.1", 20002, false),
        })
        {
            var reusable = mode == 1 || (mode == 2 && loopback);
            await using var server = new EchoServer(new IPEndPoint(IPAddress.Parse(destination), port));
            await using var pool = new SocketPool(new TuplePoolOptions
            {
                SourceAddresses = [IPAddress.Parse(source)],
                LocalPortRange = new PortRange(40000, 40009),
                CloseMode = CloseMode.Graceful,
                AcquireTimeout = TimeSpan.FromMilliseconds(300),
            });

            var leases = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => pool.AcquireAsync(server.EndPoint).AsTask()));
            var works = await Task.WhenAll(leases.Select(EchoAsync));
            var closed = Stopwatch.StartNew();
            foreach (var lease in leases)
            {
                lease.Invalidate(); // we close first: TIME_WAIT is ours
                lease.Dispose();
            }

            var charged = pool.GetSnapshot().TotalTimeWait;
            var chargedAfter = closed.Elapsed;
            var ss = await WaitForSsAsync("time-wait", source, destination, port, 10);
            report.Check($"{name}: 10 connections, 10 TIME_WAIT in ss", works.All(w => w) && ss == 10, $"ss {ss}");
            if (!reusable || chargedAfter < TimeSpan.FromMilliseconds(500))
            {
                report.Check($"{name}: ledger charges every TIME_WAIT right after the closes", charged == ss, $"pool {charged}, ss {ss}, {chargedAfter.TotalMilliseconds:0} ms after");
            }

            // Past tcp_tw_reuse's 1 s the kernel lets a new connect take over a TIME_WAIT
            // tuple (modes 1, and 2 on loopback) or does not (0, and 2 elsewhere).
            await Task.Delay(TimeSpan.FromSeconds(2));
            var stillCharged = pool.GetSnapshot().TotalTimeWait;
            var ssLater = Shell.SsCount("time-wait", source, destination, port);
            var expected = reusable ? 0 : ssLater;
            report.Check($"{name}: after 2 s the ledger charges what the kernel still holds against us ({(reusable ? "reusable" : "not reusable")})", stillCharged == expected, $"pool {stillCharged}, ss {ssLater}, tcp_tw_reuse {mode}");

            var opened = 0;
            Exception? refusal = null;
            var again = new List<SocketLease>();
            for (var i = 0; i < 10 && refusal is null; i++)
            {
                try
                {
                    again.Add(await pool.AcquireAsync(server.EndPoint));
                    opened++;
                }
                catch (Exception e)
                {
                    refusal = e;
                }
            }

            report.Check(
                $"{name}: the kernel agrees ({(reusable ? "10 new connections over the TIME_WAIT ports" : "typed refusal, no raw EADDRNOTAVAIL")})",
                reusable ? opened == 10 : opened == 0 && refusal is TupleBudgetExhaustedException,
                $"opened {opened}; {(refusal is null ? "no refusal" : Describe(refusal))}");
            foreach (var lease in again)
            {
                lease.Invalidate();
                lease.Dispose();
            }
        }
    }

    private static async Task<int> WaitForSsAsync(string state, string source, string destination, int port, int expected)
    {
        var count = 0;
        await WaitAsync(() => (count = Shell.SsCount(state, source, destination, port)) == expected);
        return count;
    }

    /// <summary>Re-checks kernel or peer state (no event to await) until it holds, for at most 10 s.</summary>
    private static async Task<bool> WaitAsync(Func<bool> condition)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > TimeSpan.FromSeconds(10))
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
