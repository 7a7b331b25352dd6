using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Redis;
using TuplePool.Samples.Readme;
using TuplePool.TestServers;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Docs;

/// <summary>The "Behind a NAT" examples of README.md, run against a loopback server and a redis-server of their own.</summary>
public sealed partial class ReadmeSnippetTests
{
    [Fact]
    public async Task BehindANat_ChargesTheNatLedgerForADestinationItLists()
    {
        await using var server = new LoopbackServer(echo: true);

        var usage = await BehindANat.RunAsync(server.EndPoint, IPNetwork.Parse("127.0.0.0/8"), TestContext.Current.CancellationToken);

        Assert.Equal(server.EndPoint, usage.Destination);
        Assert.Equal(128, usage.Capacity);
        Assert.Equal(1, usage.Active); // the connection went back to the idle store: still open through the NAT
        Assert.Equal(127, usage.Remaining);
    }

    [Fact]
    public async Task BehindANatFleet_ThePoolDrawsOnTheRedisFleetBudget()
    {
        Assert.SkipWhen(RedisServer.MissingReason is not null, RedisServer.MissingReason ?? string.Empty);
        await using var redis = await RedisServer.StartAsync();

        await using var app = BehindANat.BuildFleet(redis.EndPoint + ",abortConnect=false");

        var budget = app.Services.GetRequiredService<IFleetBudget>();
        Assert.IsType<RedisFleetBudget>(budget);
        var pool = app.Services.GetRequiredService<ISocketPool>();
        Assert.Empty(pool.GetSnapshot().Nat);
        Assert.Equal(55_000, app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<TuplePoolOptions>>().Value.Nat!.PortsPerDestination);
    }
}
