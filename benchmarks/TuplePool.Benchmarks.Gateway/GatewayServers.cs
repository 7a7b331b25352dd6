using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using TuplePool.Yarp;
using Yarp.ReverseProxy.Configuration;

namespace TuplePool.Benchmarks.Gateway;

/// <summary>
/// The servers of one comparison, all in this process on 127.0.0.1: Kestrel backends answering a
/// two-byte body, a YARP proxy in front of them with YARP's own connection handling, and the same
/// proxy with <c>UseTuplePool()</c>, its connections leaving from the pool's source addresses.
/// </summary>
internal sealed class GatewayServers : IAsyncDisposable
{
    public const string KeepAlivePath = "/";

    /// <summary>The backends answer with <c>Connection: close</c> here, so the proxy opens a connection per request.</summary>
    public const string ClosePath = "/close";

    private readonly List<WebApplication> _apps = [];
    private WebApplication? _poolProxy;

    private GatewayServers()
    {
    }

    public static async Task<GatewayServers> StartAsync(GatewayOptions options, CancellationToken cancellationToken)
    {
        var servers = new GatewayServers();
        try
        {
            var backends = new List<string>();
            for (var i = 1; i <= options.Backends; i++)
            {
                var port = options.PortBase + i;
                await servers.StartAsync(port, _ => { }, MapBackend, cancellationToken);
                backends.Add($"http://127.0.0.1:{port}/");
            }

            await servers.StartAsync(options.PlainProxyPort, builder => AddProxy(builder, backends), MapProxy, cancellationToken);
            await servers.StartAsync(
                options.PoolProxyPort,
                builder =>
                {
                    builder.Services.AddTuplePool(o =>
                    {
                        for (var i = 0; i < options.Sources; i++)
                        {
                            o.SourceAddresses.Add(new IPAddress(new byte[] { 127, 0, 0, (byte)(i + 2) }));
                        }
                    });
                    AddProxy(builder, backends).UseTuplePool();
                },
                MapProxy,
                cancellationToken);
            servers._poolProxy = servers._apps[^1];
            return servers;
        }
        catch
        {
            await servers.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// What the pool proxy's cluster pool holds, per source: proof that its connections go through
    /// the pool (a comparison of YARP against itself would look just as good). Null when it has none.
    /// </summary>
    public string? DescribePool()
    {
        if (_poolProxy?.Services.GetRequiredService<IClusterSocketPools>() is not { } pools || !pools.TryGetPool("backends", out var pool))
        {
            return null;
        }

        var snapshot = pool.GetSnapshot();
        if (snapshot.Tuples.Count == 0)
        {
            return null;
        }

        var sources = snapshot.Tuples.Select(t => t.Source.ToString()).Distinct().Order(StringComparer.Ordinal);
        var destinations = snapshot.Tuples.Select(t => t.Destination).Distinct().Count();
        return $"{snapshot.Tuples.Count} tuples used (sources {string.Join(", ", sources)}; {destinations} backends); now {snapshot.TotalActive} active, "
            + $"{snapshot.TotalIdle} idle, {snapshot.TotalTimeWait} ports in TIME_WAIT, {snapshot.RefusedAcquires} acquires refused";
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in Enumerable.Reverse(_apps))
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }

    private static void MapBackend(WebApplication app)
    {
        app.MapGet(KeepAlivePath, () => "ok");
        app.MapGet(ClosePath, (HttpContext context) =>
        {
            context.Response.Headers.Connection = "close";
            return "ok";
        });
    }

    private static void MapProxy(WebApplication app) => app.MapReverseProxy();

    private static IReverseProxyBuilder AddProxy(WebApplicationBuilder builder, IReadOnlyList<string> backends)
    {
        RouteConfig[] routes = [new() { RouteId = "all", ClusterId = "backends", Match = new RouteMatch { Path = "/{**rest}" } }];
        ClusterConfig[] clusters =
        [
            new()
            {
                ClusterId = "backends",
                LoadBalancingPolicy = "RoundRobin",
                Destinations = backends.Select((address, i) => (address, i)).ToDictionary(d => $"b{d.i + 1}", d => new DestinationConfig { Address = d.address }),
            },
        ];
        return builder.Services.AddReverseProxy().LoadFromMemory(routes, clusters);
    }

    private async Task StartAsync(int port, Action<WebApplicationBuilder> configure, Action<WebApplication> map, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        configure(builder);
        var app = builder.Build();
        _apps.Add(app);
        map(app);
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (IOException e)
        {
            throw new InvalidOperationException($"cannot listen on 127.0.0.1:{port} ({e.Message}); choose other ports with --port-base", e);
        }
    }
}
