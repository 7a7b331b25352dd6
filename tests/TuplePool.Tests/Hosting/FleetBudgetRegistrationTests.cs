using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Hosting;

/// <summary>
/// The default pool of <c>AddTuplePool</c> draws its NAT ports from the container's
/// <see cref="IFleetBudget"/> (what <c>AddTuplePoolRedisFleet</c> registers), as the README's
/// fleet example promises; a keyed pool does not (one budget is one instance of the fleet).
/// </summary>
public sealed class FleetBudgetRegistrationTests
{
    [Fact]
    public async Task DefaultPoolWithNat_DrawsOnTheRegisteredFleetBudget_AKeyedPoolDoesNot()
    {
        await using var server = new LoopbackServer(echo: true);
        var budget = new CountingBudget(grant: 3);
        var services = new ServiceCollection().AddLogging().AddSingleton<IFleetBudget>(budget);
        static void Nat(TuplePoolOptions o) => o.Nat = new NatOptions { PortsPerDestination = 50, Destinations = { IPNetwork.Parse("127.0.0.0/8") } };
        services.AddTuplePool(Nat);
        services.AddTuplePool("other", Nat);
        await using var provider = services.BuildServiceProvider();
        var ct = TestContext.Current.CancellationToken;

        var pool = provider.GetRequiredService<ISocketPool>();
        var other = provider.GetRequiredKeyedService<ISocketPool>("other");
        using (await pool.AcquireAsync(server.EndPoint, ct))
        using (await other.AcquireAsync(server.EndPoint, ct))
        {
            var drawn = Assert.Single(pool.GetSnapshot().Nat);
            Assert.Equal(3, drawn.Grant);
            Assert.Equal(3, drawn.Capacity);
            Assert.Null(Assert.Single(other.GetSnapshot().Nat).Grant);
        }

        Assert.Equal(1, budget.Attached);
    }

    [Fact]
    public async Task DefaultPoolWithoutNat_IgnoresTheRegisteredFleetBudget()
    {
        var budget = new CountingBudget(grant: 3);
        var services = new ServiceCollection().AddLogging().AddSingleton<IFleetBudget>(budget);
        services.AddTuplePool();
        await using var provider = services.BuildServiceProvider();

        Assert.Empty(provider.GetRequiredService<ISocketPool>().GetSnapshot().Nat);
        Assert.Equal(0, budget.Attached);
    }

    private sealed class CountingBudget(int grant) : IFleetBudget
    {
        public int Attached { get; private set; }

        public IDisposable Attach(NatOptions nat, Action<IPEndPoint> grantChanged)
        {
            Attached++;
            return new Detach();
        }

        public int GetGrant(IPEndPoint destination) => grant;

        public void Report(IPEndPoint destination, int held, int waiting)
        {
        }

        private sealed class Detach : IDisposable
        {
            public void Dispose()
            {
            }
        }
    }
}
