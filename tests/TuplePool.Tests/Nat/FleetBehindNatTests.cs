using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using TuplePool.TestServers;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Nat;

/// <summary>
/// A fleet across processes: three client namespaces behind the NAT lab's 12-port masquerade, each
/// running one instance (runner scenario <c>pool-in-fleet</c>, a separate process) whose pool takes
/// its NAT share from a <see cref="Redis.RedisFleetBudget"/> on one redis-server in the router.
/// Together they never open past the NAT's ports (no SYN is ever dropped, the server never sees
/// more than 12), the others are served with a leaving host's ports as they free, and a host
/// killed with SIGKILL gives its share back only once its lease and the NAT's hold are over. Redis stopped or restarted empty
/// is RedisFleetOutageTests' (one process).
/// </summary>
public sealed class FleetBehindNatTests
{
    private const int Port = 21120;
    private const int RedisPort = 21121;
    private const int Hosts = 3;
    private static readonly PortRange NatPorts = new(40000, 40011);
    private static readonly TimeSpan HoldAfterClose = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan HoldAfterReset = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task ThreeHostsShareTheNatThroughRedis_NeverPastItsPorts_ServedAsPortsFree_AKilledHostsShareBackAfterLeasePlusHold()
    {
        Assert.SkipWhen(NatLab.SkipReason() is not null, NatLab.SkipReason() ?? "");
        Assert.SkipWhen(RedisServer.MissingReason is not null, RedisServer.MissingReason ?? "");
        using var lab = NatLab.Create(Hosts, NatPorts, HoldAfterClose, HoldAfterReset);
        using var redis = await LabRedis.StartAsync(lab, RedisPort);
        await lab.StartServerAsync(Port);
        var fleet = "lab-" + Guid.NewGuid().ToString("N")[..8];
        var hosts = Enumerable.Range(0, Hosts).Select(k => lab.StartInClient(k, "pool-in-fleet", Args(redis, fleet, k))).ToArray();
        await Task.WhenAll(hosts.Select(h => h.ReadAsync(TimeSpan.FromSeconds(30)))); // {"ready": ...}
        var (a, b, c) = (hosts[0], hosts[1], hosts[2]);
        var log = TestContext.Current.TestOutputHelper;
        var capacity = NatPorts.Count;

        // 1. Each wants 6, 18 in all: the fleet fills the NAT's 12 and no more; the rest wait (typed).
        await Task.WhenAll(hosts.Select(h => h.SendAsync("acquire 6", Answer)));
        var full = await UntilAsync(hosts, s => s.Sum(Held) == capacity, TimeSpan.FromSeconds(20));
        log?.WriteLine("full: " + Describe(full));
        Assert.True(full.Sum(Held) == capacity, "the fleet did not fill the NAT: " + Describe(full));
        Assert.All(full, s => Assert.True(Held(s) >= 2, "a host starved while the others held the NAT: " + Describe(full)));
        Assert.Equal(capacity, lab.ServerPeers(Port).Count);

        // 2. a leaves (its process ends: leases closed, pool and budget disposed): b and c are served
        //    with its ports, once the NAT's hold is over.
        var closedAt = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        await a.StopAsync(Answer);
        var moved = await UntilAsync([b, c], s => s.Sum(Held) == capacity, TimeSpan.FromSeconds(20));
        log?.WriteLine("after a left: " + Describe(moved));
        Assert.True(Held(moved[0]) == 6 && Held(moved[1]) == 6, "b and c were not served a's ports: " + Describe(moved));
        Assert.All(
            moved.SelectMany(s => ServedAt(s)).Where(t => t > closedAt),
            t => Assert.True(t - closedAt >= HoldAfterClose.TotalMilliseconds * 0.9, $"served {t - closedAt} ms after a's closes, within the NAT's hold: " + Describe(moved)));
        Assert.Equal(capacity, lab.ServerPeers(Port).Count);

        // 3. c dies with SIGKILL holding 6. b asks for 6 more: the NAT frees c's ports after its hold
        //    (3 s), but Redis counts c's record for lease + hold after its last renewal (every
        //    lease / 3): b is served after that, and not before.
        var before = await StatusAsync(b);
        await b.SendAsync("acquire 6", Answer);
        var killedAt = TimeProvider.System.GetUtcNow().ToUnixTimeMilliseconds();
        using (var victim = Process.GetProcessById(c.ProcessId))
        {
            victim.Kill();
            await victim.WaitForExitAsync(TestContext.Current.CancellationToken);
        }

        var refilled = (await UntilAsync([b], s => Held(s[0]) == capacity, TimeSpan.FromSeconds(20)))[0];
        log?.WriteLine($"after c was killed at {killedAt}: " + Describe([refilled]));
        Assert.True(Held(refilled) == capacity, "b did not get c's ports: " + Describe([refilled]));
        var earliest = (Lease + HoldAfterClose - (Lease / 3)).TotalMilliseconds;
        var servedAfterKill = ServedAt(refilled).Skip(ServedAt(before).Count).ToList();
        Assert.All(servedAfterKill, t => Assert.True(t - killedAt >= earliest - 200, $"b was served {t - killedAt} ms after c died, before c's lease + hold ({earliest} ms at the earliest): " + Describe([refilled])));
        log?.WriteLine($"b served {string.Join(", ", servedAfterKill.Select(t => t - killedAt))} ms after the kill");

        // All along: no SYN dropped at the NAT, nothing but typed waits.
        foreach (var status in new[] { refilled, moved[1] })
        {
            Assert.True((int)status["synTimeouts"]! == 0, "a SYN timed out at the NAT (the fleet opened past its ports): " + status.ToJsonString());
            Assert.True(status["other"]!.AsArray().Count == 0, status.ToJsonString());
        }

        Assert.Equal(capacity, lab.ServerPeers(Port).Count);
        await b.StopAsync(Answer);
    }

    private static (string, string)[] Args(LabRedis redis, string fleet, int host) =>
    [
        ("host", NatLab.ServerAddress.ToString()),
        ("port", Text(Port)),
        ("redis", redis.EndPoint.ToString()),
        ("fleet", fleet),
        ("instance", $"host{host}"),
        ("nat-ports", Text(NatPorts.Count)),
        ("expected-instances", Text(Hosts)),
        ("chunk", "2"),
        ("lease-ms", Text((int)Lease.TotalMilliseconds)),
        ("hold-after-close-ms", Text((int)HoldAfterClose.TotalMilliseconds)),
        ("hold-after-reset-ms", Text((int)HoldAfterReset.TotalMilliseconds)),

        // One dropped SYN and its retry after 1 s: a connect the NAT refused shows as a timeout.
        ("connect-timeout-ms", "2000"),
        ("acquire-timeout-ms", "5000"),
    ];

    /// <summary>Every host's status, four times a second, until <paramref name="done"/> holds or the time is up; the last statuses either way.</summary>
    private static async Task<JsonObject[]> UntilAsync(RunningScenario[] hosts, Func<JsonObject[], bool> done, TimeSpan limit)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            var statuses = await Task.WhenAll(hosts.Select(StatusAsync));
            if (done(statuses) || TimeProvider.System.GetElapsedTime(started) > limit)
            {
                return statuses;
            }

            await Task.Delay(250, TestContext.Current.CancellationToken);
        }
    }

    private static Task<JsonObject> StatusAsync(RunningScenario host) => host.SendAsync("status", Answer);

    private static int Held(JsonObject status) => (int)status["held"]!;

    private static List<long> ServedAt(JsonObject status) => status["servedAtMs"]!.AsArray().Select(t => (long)t!).ToList();

    private static string Describe(IEnumerable<JsonObject> statuses)
        => string.Join("; ", statuses.Select(s => $"held {s["held"]}, waiting {s["waiting"]}, refusals {s["refusals"]}, synTimeouts {s["synTimeouts"]}, grant {s["grant"]}, {s["nat"]}, {s["fleet"]}"));

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
