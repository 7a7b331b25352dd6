using System.Globalization;
using System.Net;
using StackExchange.Redis;
using TuplePool.Redis;
using TuplePool.Redis.Grants;
using TuplePool.Redis.Store;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// The grant script's rules, one request at a time, on a real redis-server: capacity, fairness,
/// expiry on Redis's clock, late requests, refused settings, the recovery window and key expiry.
/// Capacity 60, three expected instances, a quarter static: 45 ports through Redis.
/// </summary>
public sealed class GrantScriptTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static int s_port = 1000;

    private readonly string _fleet = "script-" + Guid.NewGuid().ToString("N")[..8];
    private readonly IPEndPoint _destination = new(IPAddress.Parse("198.18.0.20"), Interlocked.Increment(ref s_port));
    private long _sequence;

    private GrantKeys Keys => new FleetKeys(RedisFleetDefaults.KeyPrefix, _fleet).For(_destination);

    private RedisGrantStore Store(string instance, int capacity = 60, TimeSpan? lease = null, TimeSpan? hold = null, TimeSpan? recovery = null)
    {
        var options = new RedisFleetOptions
        {
            FleetName = _fleet,
            ExpectedInstances = 3,
            ChunkSize = 8,
            LeaseTime = lease ?? TimeSpan.FromSeconds(2),
            RecoveryWindow = recovery ?? TimeSpan.Zero,
        };
        var context = new FleetContext(FleetShares.Of(capacity, options), options, hold ?? TimeSpan.FromSeconds(1), TimeProvider.System);
        return new RedisGrantStore(redis.Client, instance, context);
    }

    private Task<GrantReply> AskAsync(RedisGrantStore store, int keep, int want, int waiting = 0)
        => store.SyncAsync(Keys, new GrantRequest(keep, want, waiting, Interlocked.Increment(ref _sequence)));

    private async Task<long> RedisNowAsync()
    {
        var time = (RedisResult[])(await redis.Inspect.ExecuteAsync("TIME"))!;
        return (long.Parse((string)time[0]!, CultureInfo.InvariantCulture) * 1000) + (long.Parse((string)time[1]!, CultureInfo.InvariantCulture) / 1000);
    }

    private async Task<long> ExpiryOfAsync(string instance)
        => long.Parse(((string)(await redis.Inspect.HashGetAsync(Keys.Destination, instance))!).Split(':')[1], CultureInfo.InvariantCulture);

    [Fact]
    public async Task Grants_NeverAddUpToMoreThanTheCoordinatedCapacity()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a");
        var b = Store("b");
        var c = Store("c");

        var first = await AskAsync(a, keep: 0, want: 40);
        var second = await AskAsync(b, keep: 0, want: 40);
        var third = await AskAsync(c, keep: 0, want: 8);

        Assert.Equal((GrantOutcome.Applied, 40, 40), (first.Outcome, first.Grant, first.Extra));
        Assert.Equal((5, 5), (second.Grant, second.Extra));
        Assert.Equal((0, 0), (third.Grant, third.Extra));
    }

    [Fact]
    public async Task WhileAnotherInstanceWaits_GrowthStopsAtTheFairShare()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a");
        var b = Store("b");
        await AskAsync(a, keep: 0, want: 40);
        var starved = await AskAsync(b, keep: 0, want: 24, waiting: 20);
        Assert.Equal(5, starved.Grant);

        // a, above its fair share of 45 / 2 = 22 while b waits, gets nothing more and hears the cap.
        var capped = await AskAsync(a, keep: 40, want: 8, waiting: 3);
        Assert.Equal((40, 0, 22, 1), (capped.Grant, capped.Extra, capped.FairShare, capped.OthersWaiting));

        // a comes down to its fair share; b, still waiting, grows to its own and no further.
        await AskAsync(a, keep: 22, want: 0, waiting: 3);
        var served = await AskAsync(b, keep: 5, want: 24, waiting: 15);
        Assert.Equal((22, 17), (served.Grant, served.Extra));
    }

    [Fact]
    public async Task ARecord_RunsOutLeasePlusHoldAfterRedisWroteIt_OnRedisClock()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a", lease: TimeSpan.FromSeconds(2), hold: TimeSpan.FromSeconds(1));

        var before = await RedisNowAsync();
        await AskAsync(a, keep: 0, want: 8);
        var after = await RedisNowAsync();

        var expiry = await ExpiryOfAsync("a");
        Assert.InRange(expiry, before + 3000, after + 3000);
        var ttl = await redis.Inspect.KeyTimeToLiveAsync(Keys.Destination);
        Assert.NotNull(ttl);
        Assert.InRange(ttl.Value, TimeSpan.FromMilliseconds(2000), TimeSpan.FromMilliseconds(3000));
    }

    [Fact]
    public async Task AWaitingOnlyRecord_RunsOutAfterTheLeaseAlone()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a");
        var b = Store("b", lease: TimeSpan.FromSeconds(2), hold: TimeSpan.FromSeconds(1));
        await AskAsync(a, keep: 0, want: 45);

        var before = await RedisNowAsync();
        var reply = await AskAsync(b, keep: 0, want: 8, waiting: 4);
        var after = await RedisNowAsync();

        Assert.Equal(0, reply.Grant);
        Assert.InRange(await ExpiryOfAsync("b"), before + 2000, after + 2000);
    }

    [Fact]
    public async Task ACrashedInstancesPorts_AreGrantedAgainOnceItsRecordRanOut()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a", lease: TimeSpan.FromMilliseconds(200), hold: TimeSpan.FromMilliseconds(100));
        var b = Store("b");
        await AskAsync(a, keep: 0, want: 45);
        Assert.Equal(0, (await AskAsync(b, keep: 0, want: 8)).Grant);

        // a never renews. Waiting past its expiry (300 ms on Redis's clock) can only make it more certain.
        var expiry = await ExpiryOfAsync("a");
        while (await RedisNowAsync() <= expiry)
        {
            await Task.Delay(20);
        }

        var reply = await AskAsync(b, keep: 0, want: 45);
        Assert.Equal(45, reply.Grant);
        Assert.False(await redis.Inspect.HashExistsAsync(Keys.Destination, "a"));
    }

    [Fact]
    public async Task ARequestOlderThanTheRecordedOne_IsIgnored()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a");
        await a.SyncAsync(Keys, new GrantRequest(0, 16, 0, Sequence: 10));

        var late = await a.SyncAsync(Keys, new GrantRequest(0, 0, 0, Sequence: 9));

        Assert.Equal((GrantOutcome.Stale, 16), (late.Outcome, late.Grant));
        Assert.StartsWith("16:", (string)(await redis.Inspect.HashGetAsync(Keys.Destination, "a"))!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnInstanceWithAnotherCapacity_IsRefused_AndToldTheFleetsNumbers()
    {
        redis.SkipUnlessInstalled();
        await AskAsync(Store("a"), keep: 0, want: 8);

        var reply = await AskAsync(Store("b", capacity: 90), keep: 0, want: 8);

        Assert.Equal((GrantOutcome.Misconfigured, 0, "60", "15"), (reply.Outcome, reply.Grant, reply.FleetCapacity, reply.FleetReserved));
        Assert.False(await redis.Inspect.HashExistsAsync(Keys.Destination, "b"));
    }

    [Fact]
    public async Task InTheRecoveryWindow_WhatIsKeptIsAccepted_AndNothingNewIsGranted()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a", recovery: TimeSpan.FromSeconds(1));

        var reasserted = await AskAsync(a, keep: 20, want: 8);
        Assert.Equal((20, 0), (reasserted.Grant, reasserted.Extra));
        Assert.InRange(reasserted.Recovering, TimeSpan.FromMilliseconds(1), TimeSpan.FromSeconds(1));

        GrantReply later;
        do
        {
            await Task.Delay(50);
            later = await AskAsync(a, keep: 20, want: 8);
        }
        while (later.Recovering > TimeSpan.Zero);

        Assert.Equal((28, 8), (later.Grant, later.Extra));
    }

    [Fact]
    public async Task TheLastRecordHandedBack_TakesTheKeyWithIt()
    {
        redis.SkipUnlessInstalled();
        var a = Store("a");
        await AskAsync(a, keep: 0, want: 8);
        Assert.True(await redis.Inspect.KeyExistsAsync(Keys.Destination));

        var reply = await AskAsync(a, keep: 0, want: 0);

        Assert.Equal(0, reply.Grant);
        Assert.False(await redis.Inspect.KeyExistsAsync(Keys.Destination));
        Assert.True(await redis.Inspect.KeyExistsAsync(Keys.Epoch));
    }
}
