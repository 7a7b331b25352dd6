using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's "Behind a NAT" examples: one instance with its NAT budget, and a fleet sharing one through Redis.</summary>
public static class BehindANat
{
    /// <summary>One request to <paramref name="backend"/>, which lies in <paramref name="natNetwork"/>; returns the NAT's usage after it.</summary>
    public static async Task<NatUsage> RunAsync(IPEndPoint backend, IPNetwork natNetwork, CancellationToken cancellationToken)
    {
        // <readme name="behind-a-nat">
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            AcquireTimeout = TimeSpan.FromSeconds(5),
            Nat = new NatOptions
            {
                PortsPerDestination = 128,                    // Azure App Service: 128 per instance and destination
                HoldAfterClose = TimeSpan.FromSeconds(240),   // its port comes back 240 s after a FIN
                HoldAfterReset = TimeSpan.FromSeconds(15),    // and 15 s after an RST
                Destinations = { natNetwork },                // what crosses the NAT, e.g. 198.51.100.0/24
            },
        });
        try
        {
            await using var lease = await pool.AcquireAsync(backend, cancellationToken);
            await lease.Stream.WriteAsync("ping\n"u8.ToArray(), cancellationToken);
        }
        catch (TupleBudgetExhaustedException e) when (e.NatIsTheLimit)
        {
            Console.WriteLine(e.Message);   // every NAT port to backend is open or still held: shed load
        }
        // </readme>
        return pool.GetSnapshot().Nat.Single();
    }

    /// <summary>The fleet registration of the README: a web app's services, built but not started.</summary>
    public static WebApplication BuildFleet(string redisConfiguration)
    {
        var builder = WebApplication.CreateSlimBuilder();

        // <readme name="behind-a-nat-fleet">
        builder.Services.AddSingleton<IConnectionMultiplexer>(
            ConnectionMultiplexer.Connect(redisConfiguration));   // "redis:6379,abortConnect=false"
        builder.Services.AddTuplePoolRedisFleet(o =>
        {
            o.FleetName = "crawlers";      // the same on every instance behind the NAT
            o.ExpectedInstances = 50;      // the most that ever run at once, a deploy's surge included
        });
        builder.Services.AddTuplePool(o => o.Nat = new NatOptions { PortsPerDestination = 55_000 });
        builder.Services.AddHealthChecks().AddTuplePoolRedisFleet();
        // </readme>
        return builder.Build();
    }
}
