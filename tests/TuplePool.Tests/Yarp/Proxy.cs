using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Yarp;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;

namespace TuplePool.Tests.Yarp;

/// <summary>
/// Real YARP on a real Kestrel (127.0.0.1, below 32768), set up as an application would:
/// <c>AddReverseProxy().LoadFromConfig(section).UseTuplePool()</c> with the test's JSON, or
/// <c>LoadFromMemory</c> for tests that reload. Remembers the forwarder error of every request.
/// </summary>
internal sealed class Proxy : IAsyncDisposable
{
    private readonly LoopbackKestrel _server;

    private Proxy(LoopbackKestrel server, ConcurrentQueue<IForwarderErrorFeature> errors)
    {
        _server = server;
        Errors = errors;
        Client = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>A plain client (no pool) that sends the test's requests to the proxy.</summary>
    public HttpClient Client { get; }

    public IServiceProvider Services => _server.Services;

    public IClusterSocketPools Pools => Services.GetRequiredService<IClusterSocketPools>();

    /// <summary>The <see cref="IForwarderErrorFeature"/> of each request that failed to forward, in order.</summary>
    public ConcurrentQueue<IForwarderErrorFeature> Errors { get; }

    /// <summary>The pool cluster <paramref name="clusterId"/> connects through; fails the test when it has none.</summary>
    public ISocketPool PoolOf(string clusterId)
    {
        Assert.True(Pools.TryGetPool(clusterId, out var pool), $"cluster '{clusterId}' has no pool");
        return pool;
    }

    /// <summary>The proxy configured from <paramref name="json"/> (a document with a <c>"ReverseProxy"</c> section).</summary>
    public static Task<Proxy> StartAsync(string json, Action<IServiceCollection> services, Action<TuplePoolProxyOptions>? configure = null)
        => StartAsync(
            builder =>
            {
                builder.Configuration.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
                services(builder.Services);
                builder.Services.AddReverseProxy()
                    .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
                    .UseTuplePool(configure);
            });

    /// <summary>The proxy configured from memory; reload it with <see cref="InMemoryConfigProvider.Update"/>.</summary>
    public static Task<Proxy> StartAsync(IReadOnlyList<RouteConfig> routes, IReadOnlyList<ClusterConfig> clusters, Action<IServiceCollection> services)
        => StartAsync(
            builder =>
            {
                services(builder.Services);
                builder.Services.AddReverseProxy().LoadFromMemory(routes, clusters).UseTuplePool();
            });

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _server.DisposeAsync();
    }

    private static async Task<Proxy> StartAsync(Action<WebApplicationBuilder> configure)
    {
        var errors = new ConcurrentQueue<IForwarderErrorFeature>();
        var server = await LoopbackKestrel.StartAsync(configure, app => app.MapReverseProxy(pipeline =>
        {
            pipeline.Use(async (context, next) =>
            {
                await next(context);
                if (context.Features.Get<IForwarderErrorFeature>() is { } error)
                {
                    errors.Enqueue(error);
                }
            });

            // A pipeline of one's own replaces YARP's default one: add back what MapReverseProxy() has.
            pipeline.UseSessionAffinity();
            pipeline.UseLoadBalancing();
            pipeline.UsePassiveHealthChecks();
        }));
        return new Proxy(server, errors);
    }
}
