using System.Net;
using StackExchange.Redis;
using TuplePool.Redis;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// Two real <see cref="SocketPool"/>s, each with its own multiplexer and <see cref="RedisFleetBudget"/>,
/// opening loopback connections through a "NAT" of 20 ports (loopback is declared to be behind
/// it): static share 2 each, 16 through Redis in chunks of 4. The pools' own NAT ledgers never
/// hold more than the fleet grants them, and the grants never add up to more than the NAT.
/// </summary>
public sealed class SocketPoolFleetTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const int Capacity = 20;

    private static readonly NatOptions Nat = new()
    {
        PortsPerDestination = Capacity,
        HoldAfterClose = TimeSpan.FromSeconds(0.5),
        HoldAfterReset = TimeSpan.FromSeconds(0.2),
        Destinations = { IPNetwork.Parse("127.0.0.0/8") },
    };

    [Fact]
    public async Task TwoPools_DrawTheirNatPortsFromTheFleet_AndTogetherNeverHoldMoreThanTheNat()
    {
        redis.SkipUnlessInstalled();
        await using var server = new LoopbackServer();
        var fleet = "pools-" + Guid.NewGuid().ToString("N")[..8];
        await using var a = await StartAsync(fleet, "a");
        await using var b = await StartAsync(fleet, "b");

        var leasesOfA = await AcquireAsync(a.Pool, server.EndPoint, 12, retryFor: TimeSpan.FromSeconds(20));
        var leasesOfB = await AcquireAsync(b.Pool, server.EndPoint, 8, retryFor: TimeSpan.FromSeconds(20));
        Assert.True(a.Budget.GetGrant(server.EndPoint) >= 12 && b.Budget.GetGrant(server.EndPoint) >= 8);
        Assert.InRange(a.Budget.GetGrant(server.EndPoint) + b.Budget.GetGrant(server.EndPoint), 20, Capacity);

        // The NAT is full: the pool says so instead of sending a SYN the NAT would drop.
        var refused = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(async () => await b.Pool.AcquireAsync(server.EndPoint));
        Assert.Contains("NAT", refused.Message, StringComparison.Ordinal);

        // a closes 4; b, waiting for 2 more, gets them: a comes down to its fair share (2 + 16 / 2).
        foreach (var lease in leasesOfA.Take(4))
        {
            lease.Invalidate();
            lease.Dispose();
        }

        leasesOfB.AddRange(await AcquireAsync(b.Pool, server.EndPoint, 2, retryFor: TimeSpan.FromSeconds(20)));
        Assert.Equal(10, Assert.Single(b.Pool.GetSnapshot().Nat).Active);
        Assert.True(a.Budget.GetGrant(server.EndPoint) + b.Budget.GetGrant(server.EndPoint) <= Capacity);
        var natOfA = Assert.Single(a.Pool.GetSnapshot().Nat);
        Assert.True(natOfA.Active + natOfA.Holding <= natOfA.Grant, natOfA.ToString());

        foreach (var lease in leasesOfA.Skip(4).Concat(leasesOfB))
        {
            lease.Dispose();
        }
    }

    private async Task<Member> StartAsync(string fleet, string instance)
    {
        var multiplexer = await redis.Server.ConnectAsync(instance);
        var budget = new RedisFleetBudget(multiplexer, new RedisFleetOptions
        {
            FleetName = fleet,
            InstanceId = instance,
            ExpectedInstances = 2,
            StaticShareFraction = 0.25,
            ChunkSize = 4,
            LeaseTime = TimeSpan.FromSeconds(2),
            WaitRetryInterval = TimeSpan.FromMilliseconds(100),
            RecoveryWindow = TimeSpan.Zero,
        });
        var pool = new SocketPool(
            new TuplePoolOptions
            {
                Nat = Nat,
                SourceAddresses = TestSources.Take(1),
                LocalPortRange = PortSlices.Next(64),
                AcquireTimeout = TimeSpan.FromSeconds(2),
            },
            budget);
        return new Member(multiplexer, budget, pool);
    }

    /// <summary>Acquires <paramref name="count"/> leases; a caller that gets the typed refusal tries again until <paramref name="retryFor"/> has passed.</summary>
    private static async Task<List<SocketLease>> AcquireAsync(SocketPool pool, IPEndPoint destination, int count, TimeSpan? retryFor = null)
    {
        var started = TimeProvider.System.GetTimestamp();
        var leases = new List<SocketLease>();
        while (leases.Count < count)
        {
            try
            {
                leases.Add(await pool.AcquireAsync(destination));
            }
            catch (TupleBudgetExhaustedException) when (TimeProvider.System.GetElapsedTime(started) < (retryFor ?? TimeSpan.Zero))
            {
                // The pool waited AcquireTimeout (2 s) for the fleet; the caller asks again.
            }
        }

        return leases;
    }

    private sealed record Member(ConnectionMultiplexer Multiplexer, RedisFleetBudget Budget, SocketPool Pool) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Pool.DisposeAsync();
            await Budget.DisposeAsync();
            await Multiplexer.DisposeAsync();
        }
    }
}
