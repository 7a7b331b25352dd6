using TuplePool.Tests.Support;
using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace TuplePool.Tests.Http;

public sealed class TuplePoolHttpClientBuilderExtensionsTests
{
    private static SocketsHttpHandler PrimaryHandler(IServiceProvider provider, string clientName)
    {
        HttpMessageHandler handler = provider.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(clientName);
        while (handler is DelegatingHandler delegating)
        {
            handler = delegating.InnerHandler!;
        }

        return Assert.IsType<SocketsHttpHandler>(handler);
    }

    [Fact]
    public async Task UseTuplePool_PrimaryHandlerIsSocketsHttpHandlerWithCallback()
    {
        var services = new ServiceCollection().AddTuplePool();
        services.AddHttpClient("backend").UseTuplePool();
        await using var provider = services.BuildServiceProvider();

        Assert.NotNull(PrimaryHandler(provider, "backend").ConnectCallback);
    }

    [Fact]
    public async Task UseTuplePool_OtherSocketsHttpHandlerSettings_Kept()
    {
        var services = new ServiceCollection().AddTuplePool();
        services.AddHttpClient("backend")
            .UseSocketsHttpHandler((h, _) => h.PooledConnectionIdleTimeout = TimeSpan.FromSeconds(17))
            .UseTuplePool();
        await using var provider = services.BuildServiceProvider();

        var handler = PrimaryHandler(provider, "backend");

        Assert.Equal(TimeSpan.FromSeconds(17), handler.PooledConnectionIdleTimeout);
        Assert.NotNull(handler.ConnectCallback);
    }

    [Fact]
    public async Task UseTuplePool_PrimaryHandlerReplacedAfterwards_FirstCreateClientSaysItWouldBypassThePool()
    {
        var services = new ServiceCollection().AddTuplePool();
        services.AddHttpClient("backend")
            .UseTuplePool()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { MaxConnectionsPerServer = 8 });
        await using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend"));

        Assert.Contains("'backend'", error.Message, StringComparison.Ordinal);
        Assert.Contains("bypass TuplePool", error.Message, StringComparison.Ordinal);
        Assert.Contains("UseSocketsHttpHandler", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseTuplePool_HandlerSetUpBeforehand_IsKeptAndPooled()
    {
        var services = new ServiceCollection().AddTuplePool();
        services.AddHttpClient("backend")
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { MaxConnectionsPerServer = 8 })
            .UseTuplePool();
        services.AddHttpClient("plain").ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler());
        await using var provider = services.BuildServiceProvider();

        var handler = PrimaryHandler(provider, "backend");

        Assert.Equal(8, handler.MaxConnectionsPerServer);
        Assert.NotNull(handler.ConnectCallback);
        Assert.Null(PrimaryHandler(provider, "plain").ConnectCallback); // clients without UseTuplePool are left alone
    }

    [Fact]
    public async Task UseTuplePool_TwoClients_ConnectThroughTheOnePoolFromDI()
    {
        var pool = new FakeSocketPool();
        var services = new ServiceCollection().AddSingleton<ISocketPool>(pool);
        services.AddHttpClient("a").UseTuplePool();
        services.AddHttpClient("b").UseTuplePool();
        await using var provider = services.BuildServiceProvider();
        var factory = provider.GetRequiredService<IHttpClientFactory>();

        var ea = await Assert.ThrowsAsync<HttpRequestException>(() => factory.CreateClient("a").GetAsync("http://127.0.0.1:9/", TestContext.Current.CancellationToken));
        var eb = await Assert.ThrowsAsync<HttpRequestException>(() => factory.CreateClient("b").GetAsync("http://127.0.0.2:9/", TestContext.Current.CancellationToken));

        Assert.IsType<TupleBudgetExhaustedException>(ea.InnerException);
        Assert.IsType<TupleBudgetExhaustedException>(eb.InnerException);
        Assert.Equal([new IPEndPoint(IPAddress.Loopback, 9), new IPEndPoint(IPAddress.Parse("127.0.0.2"), 9)], pool.Acquired);
    }

    [Fact]
    public async Task UseTuplePool_PoolName_UsesTheKeyedPool()
    {
        var defaultPool = new FakeSocketPool();
        var backendPool = new FakeSocketPool();
        var services = new ServiceCollection()
            .AddSingleton<ISocketPool>(defaultPool)
            .AddKeyedSingleton<ISocketPool>("backend", backendPool);
        services.AddHttpClient("backend").UseTuplePool("backend");
        await using var provider = services.BuildServiceProvider();

        await Assert.ThrowsAsync<HttpRequestException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend").GetAsync("http://127.0.0.1:9/", TestContext.Current.CancellationToken));

        Assert.Single(backendPool.Acquired);
        Assert.Empty(defaultPool.Acquired);
    }

    [Fact]
    public async Task UseTuplePool_NoPoolRegistered_ClearInvalidOperation()
    {
        var services = new ServiceCollection();
        services.AddHttpClient("backend").UseTuplePool();
        await using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend"));

        Assert.Contains("services.AddTuplePool", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseTuplePool_UnknownPoolName_ClearInvalidOperationNamingIt()
    {
        var services = new ServiceCollection().AddTuplePool();
        services.AddHttpClient("backend").UseTuplePool("search");
        await using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend"));

        Assert.Contains("no TuplePool named 'search'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseTuplePool_PoolOptionsInvalid_CreatingClientReportsThem()
    {
        var services = new ServiceCollection().AddTuplePool(o => o.MaxConnectAttempts = 0);
        services.AddHttpClient("backend").UseTuplePool();
        await using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend"));

        Assert.Contains("MaxConnectAttempts: 0", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UseTuplePool_PoolFromJsonConfiguration_RequestsLeaveFromEveryConfiguredSource()
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes($$"""
            {
              "TuplePool": {
                "SourceAddresses": [ "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5" ],
                "LocalPortRange": "{{PortSlices.Integration.Take(40)}}",
                "AcquireTimeout": "00:00:10",
                "CloseMode": "Abortive"
              }
            }
            """))).Build();
        var services = new ServiceCollection().AddTuplePool(configuration);
        services.AddHttpClient("backend", c => c.BaseAddress = server.BaseAddress).UseTuplePool();
        await using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend");

        var requests = Enumerable.Range(0, 8).Select(_ => client.GetStringAsync("/hold", token)).ToList();
        Assert.True(await TestHttpServer.EventuallyAsync(() => server.Held == 8, TimeSpan.FromSeconds(20)), $"only {server.Held} of 8 requests reached the server");
        server.Release();
        await Task.WhenAll(requests);

        Assert.Equal(["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"], server.ClientAddresses.Keys.Select(a => a.ToString()).Order(StringComparer.Ordinal));
        var tuples = provider.GetRequiredService<ISocketPool>().GetSnapshot().Tuples;
        Assert.Equal(4, tuples.Count);
        Assert.All(tuples, t => Assert.Equal(new IPEndPoint(IPAddress.Loopback, server.BaseAddress.Port), t.Destination));
        Assert.Equal(8, tuples.Sum(t => t.Active));
    }
}
