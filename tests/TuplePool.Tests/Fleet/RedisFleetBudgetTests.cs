using System.Net;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TuplePool.Redis;
using TuplePool.Redis.Hosting;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// Several instances of a fleet, each with its own multiplexer, budget and simulated pool, on one
/// redis-server, sharing a NAT of 60 ports to one destination (static share 5 each, 45 through
/// Redis, chunks of 8, lease 2 s, hold after close 1 s). The watch checks all along that the NAT
/// never holds more than 60 and that Redis never counts more than 45.
/// </summary>
public sealed class RedisFleetBudgetTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static int s_port = 2000;

    private FleetLab CreateLab() => new(redis, Interlocked.Increment(ref s_port));

    [Fact]
    public async Task ThreeInstancesUnderLoad_NeverHoldMoreThanTheNat_AndEveryCallerIsServed()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        var members = new[] { await lab.AddAsync("a"), await lab.AddAsync("b"), await lab.AddAsync("c") };
        var grantsAboveStatic = new bool[members.Length];

        await using (var watch = lab.Watch())
        {
            // 12 callers per instance, 6 connections each, held 30 ms: more demand than 60 ports
            // that stay held 1 s after every close, so the fleet runs at its capacity.
            var callers = members.SelectMany((member, index) => Enumerable.Range(0, 12).Select(_ => Task.Run(async () =>
            {
                var served = 0;
                for (var i = 0; i < 6; i++)
                {
                    if (!await member.Pool.OpenAsync(Patience))
                    {
                        break;
                    }

                    grantsAboveStatic[index] |= member.Pool.Grant > FleetLab.StaticShare;
                    served++;
                    await Task.Delay(30);
                    member.Pool.Close();
                }

                return served;
            }))).ToArray();

            var served = await Task.WhenAll(callers);

            Assert.Equal(12 * 6 * members.Length, served.Sum());
            await watch.CatchUpAsync();
            Assert.Null(watch.Fault);
            Assert.InRange(watch.MaxHeld, 45, FleetLab.Capacity);
            Assert.InRange(watch.MaxPromised, 45, FleetLab.Capacity);
            Assert.InRange(watch.MaxRecorded, 1, FleetLab.Coordinated);
            Assert.True(watch.Samples > 100 && watch.RedisSamples > 10, $"{watch.Samples} local and {watch.RedisSamples} Redis samples");
        }

        Assert.All(grantsAboveStatic, Assert.True);
    }

    [Fact]
    public async Task WhileAnotherWaits_AnInstanceAboveItsFairShare_ComesDownToIt()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        var a = await lab.AddAsync("a");
        var b = await lab.AddAsync("b");
        await using var watch = lab.Watch();
        await OpenAsync(a, 50);
        Assert.Equal(50, a.Pool.Grant);

        // b wants 15: its static 5 at once; the other 10 only a can free. a closes 10: fewer than
        // two chunks unused, which a alone would keep (hysteresis); with b waiting it hands them back.
        var first = Enumerable.Range(0, 15).Select(_ => b.Pool.OpenAsync(Patience)).ToArray();
        Assert.True(await Eventually(() => b.Pool.Open == FleetLab.StaticShare && b.Pool.Waiting == 10));
        Close(a, 10);
        Assert.All(await Task.WhenAll(first), Assert.True);
        Assert.Equal(40, a.Pool.Grant);

        // b wants 10 more; a, still above its fair share (5 + 45 / 2), cannot grow while b waits,
        // and comes down to the fair share as its ports free.
        var second = Enumerable.Range(0, 10).Select(_ => b.Pool.OpenAsync(Patience)).ToArray();
        Assert.True(await Eventually(() => b.Pool.Waiting == 10));
        Assert.False(await a.Pool.OpenAsync(TimeSpan.FromSeconds(1)), "a grew while b waited");
        Close(a, 13);
        Assert.All(await Task.WhenAll(second), Assert.True);
        Assert.Equal(25, b.Pool.Open);
        Assert.Equal(FleetLab.StaticShare + 22, a.Pool.Grant);
        await watch.CatchUpAsync();
        Assert.Null(watch.Fault);
        Assert.InRange(watch.MaxHeld, 50, FleetLab.Capacity);
        Assert.InRange(watch.MaxPromised, 50, FleetLab.Capacity);
        Assert.InRange(watch.MaxRecorded, 45, FleetLab.Coordinated);
    }

    [Fact]
    public async Task ACrashedInstance_GivesItsPortsBack_OnlyAfterItsLeaseAndTheNatsHold()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();

        // The NAT holds a closed connection's port longer than the lease: only lease + hold keeps
        // the crashed instance's ports counted while its connections' mappings live on.
        var nat = new NatOptions { PortsPerDestination = FleetLab.Capacity, HoldAfterClose = TimeSpan.FromSeconds(3), HoldAfterReset = TimeSpan.FromSeconds(0.5) };
        var a = await lab.AddAsync("a", nat: nat);
        var b = await lab.AddAsync("b", nat: nat);
        await using var watch = lab.Watch();
        for (var i = 0; i < 50; i++)
        {
            Assert.True(await a.Pool.OpenAsync(Patience));
        }

        await a.CrashAsync();
        var waiters = Enumerable.Range(0, 30).Select(_ => b.Pool.OpenAsync(Patience)).ToArray();

        // b has only its static share while the NAT still holds a's ports (3 s) ...
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        Assert.Equal(FleetLab.StaticShare, b.Pool.Grant);
        Assert.Equal(FleetLab.StaticShare, b.Pool.Open);

        // ... and all it asked for once a's record ran out, lease + hold after a's last renewal.
        Assert.All(await Task.WhenAll(waiters), Assert.True);
        Assert.Null(await lab.RecordOfAsync("a"));
        await watch.CatchUpAsync();
        Assert.Null(watch.Fault);
        Assert.InRange(watch.MaxHeld, 50 + FleetLab.StaticShare, FleetLab.Capacity);
        Assert.InRange(watch.MaxPromised, 50, FleetLab.Capacity);
    }

    [Fact]
    public async Task PortsThatStayUnused_GoBackToRedis_AndTheKeyGoesWithThem()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        var a = await lab.AddAsync("a");
        for (var i = 0; i < 30; i++)
        {
            Assert.True(await a.Pool.OpenAsync(Patience));
        }

        Assert.True((await lab.RecordOfAsync("a"))?.Grant >= 25);
        for (var i = 0; i < 30; i++)
        {
            a.Pool.Close();
        }

        // After the hold the pool holds nothing; the next renewal hands everything back.
        Assert.True(await Eventually(() => a.Pool.Held == 0 && a.Pool.Grant == FleetLab.StaticShare), $"held {a.Pool.Held}, grant {a.Pool.Grant}");
        Assert.True(await EventuallyAsync(async () => !await redis.Inspect.KeyExistsAsync(lab.Keys.Destination)), "the destination's key is still there");
        Assert.True(await Eventually(() => a.Budget.CoordinatedDestinations == 0), "the budget still tracks the destination");
    }

    [Fact]
    public async Task AGrantBetweenTheMarks_IsNeitherGrownNorHandedBack()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        var a = await lab.AddAsync("a");
        for (var i = 0; i < 20; i++)
        {
            Assert.True(await a.Pool.OpenAsync(Patience));
        }

        // 20 held of 5 + 16 or 5 + 24: fewer than two chunks unused, at least the low water of 2 left.
        Assert.True(await Eventually(() => a.Pool.Grant - a.Pool.Held >= 2), $"grant {a.Pool.Grant}");
        var grant = a.Pool.Grant;
        for (var renewals = 0; renewals < 3; renewals++)
        {
            await Task.Delay(TimeSpan.FromSeconds(0.7));
            Assert.Equal(grant, a.Pool.Grant);
        }

        Assert.Equal(grant - FleetLab.StaticShare, (await lab.RecordOfAsync("a"))?.Grant);
    }

    [Fact]
    public async Task DestinationsWithinTheStaticShare_TouchNoKeyInRedis()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        var a = await lab.AddAsync("a");

        // A crawler: 500 destinations, 3 connections each (static share 5, low water 2).
        for (var i = 0; i < 500; i++)
        {
            var destination = new IPEndPoint(IPAddress.Parse("198.18.1.1"), 10000 + i);
            for (var held = 1; held <= 3; held++)
            {
                Assert.Equal(FleetLab.StaticShare, a.Budget.GetGrant(destination));
                a.Budget.Report(destination, held, 0);
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(0.5));
        Assert.Empty(redis.KeysOf(lab.FleetName));
        Assert.Equal(0, a.Budget.CoordinatedDestinations);

        // One destination past the threshold: one key for it and its bucket's epoch.
        Assert.True(await a.Pool.OpenAsync(Patience));
        for (var i = 0; i < 6; i++)
        {
            Assert.True(await a.Pool.OpenAsync(Patience));
        }

        Assert.Equal(
            new[] { (string)lab.Keys.Destination!, (string)lab.Keys.Epoch! }.Order(),
            redis.KeysOf(lab.FleetName).Order());
    }

    [Fact]
    public async Task AnInstanceWithOtherNumbers_IsRefused_AndKeepsToItsStaticShare()
    {
        redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        var a = await lab.AddAsync("a");
        Assert.True(await a.Pool.OpenAsync(Patience));
        for (var i = 0; i < 10; i++)
        {
            Assert.True(await a.Pool.OpenAsync(Patience));
        }

        var odd = await lab.AddAsync("odd", o => o.ExpectedInstances = 4);
        var waiters = Enumerable.Range(0, 10).Select(_ => odd.Pool.OpenAsync(TimeSpan.FromSeconds(1.5))).ToArray();
        await Task.WhenAll(waiters);

        Assert.Equal(RedisFleetStatus.Misconfigured, odd.Budget.Status);
        var health = await new RedisFleetHealthCheck(odd.Budget).CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
        Assert.Equal(3, odd.Pool.Open); // 60 × 0.25 ÷ 4
        Assert.Equal(RedisFleetStatus.Connected, a.Budget.Status);
    }

    private static async Task OpenAsync(FleetMember member, int count)
    {
        for (var i = 0; i < count; i++)
        {
            Assert.True(await member.Pool.OpenAsync(Patience), $"{member.Name}'s connection {i + 1} of {count}");
        }
    }

    private static void Close(FleetMember member, int count)
    {
        for (var i = 0; i < count; i++)
        {
            member.Pool.Close();
        }
    }

    private static Task<bool> Eventually(Func<bool> condition) => Support.Eventually.TrueAsync(condition, Patience);

    private static async Task<bool> EventuallyAsync(Func<Task<bool>> condition)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (!await condition())
        {
            if (TimeProvider.System.GetElapsedTime(started) > Patience)
            {
                return false;
            }

            await Task.Delay(20);
        }

        return true;
    }
}
