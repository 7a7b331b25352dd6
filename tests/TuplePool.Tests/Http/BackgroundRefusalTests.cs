using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TuplePool.HealthChecks;
using TuplePool.Tests.Support;
using static TuplePool.Tests.HealthChecks.HealthCheckTestSupport;

namespace TuplePool.Tests.Http;

/// <summary>
/// Refusals in SocketsHttpHandler's connection attempts: a background one (no request waited for
/// it: HttpClient served the request that started it with another connection) counts apart from
/// those a request received, and health says Degraded for it, not Unhealthy. Real Kestrel, real time.
/// </summary>
public sealed class BackgroundRefusalTests
{
    [Fact]
    public async Task ConnectionAttemptWhoseRequestWasServedElsewhere_IsABackgroundRefusal_AndHealthIsOnlyDegraded()
    {
        // A refusal of HttpClient's background connection attempt, which no request saw, must not
        // make /healthz Unhealthy for 30 s, as a refusal a request received does. One port:
        // request A holds the only connection; B finds none, so the handler starts an attempt for
        // it, which waits for room. A's answer frees the connection, B is served on it, and B's
        // attempt, waiting still, is refused at the handler's ConnectTimeout (shorter than the 5 s
        // after which .NET cancels such attempts).
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Integration.Take(1), CloseMode = CloseMode.Abortive });
        using var client = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1.5) }.UseTuplePool(pool)) { BaseAddress = server.BaseAddress };
        var a = client.GetStringAsync("/hold", token);
        Assert.True(await TestHttpServer.EventuallyAsync(() => server.Held == 1, TimeSpan.FromSeconds(10)), "A never reached the server");
        var b = client.GetStringAsync("/whoami", token);
        Assert.True(await TestHttpServer.EventuallyAsync(() => pool.GetSnapshot().PendingAcquires == 1, TimeSpan.FromSeconds(10)), "B's connection attempt never waited for room");

        server.Release();
        Assert.Equal("127.0.0.2", await a);
        Assert.Equal("127.0.0.2", await b); // served on A's connection: B never saw the refusal
        Assert.True(await TestHttpServer.EventuallyAsync(() => pool.GetSnapshot().BackgroundRefusals == 1, TimeSpan.FromSeconds(10)), "the attempt was never refused");

        var snapshot = pool.GetSnapshot();
        Assert.Equal(0, snapshot.RefusedAcquires);
        Assert.Null(snapshot.LastRefusal);
        Assert.NotNull(snapshot.LastBackgroundRefusal);
        var health = await CheckAsync(new SocketPoolHealthSource(pool), TimeProvider.System);
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Contains("no request received them", health.Description, StringComparison.Ordinal);
        Assert.Equal(1L, health.Data["backgroundRefusedTotal"]);
    }

    [Fact]
    public async Task BareHandler_ARequestFailsWithTheRefusal_IsBackgroundUntilMarkedReceived()
    {
        // With SocketsHttpHandler.UseTuplePool alone nothing above the handler tells the pool a
        // request got the refusal: the caller says so (MarkReceived), as the README shows.
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Integration.Take(1), AcquireTimeout = TimeSpan.FromMilliseconds(300) });
        using var held = await pool.AcquireAsync(server.EndPoint);
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool)) { BaseAddress = server.BaseAddress };

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("/whoami", token));
        var refusal = Assert.IsType<TupleBudgetExhaustedException>(error.InnerException);
        Assert.True(refusal.IsBackground);
        Assert.Equal((0L, 1L), (pool.GetSnapshot().RefusedAcquires, pool.GetSnapshot().BackgroundRefusals));

        refusal.MarkReceived();

        var snapshot = pool.GetSnapshot();
        Assert.Equal((1L, 0L), (snapshot.RefusedAcquires, snapshot.BackgroundRefusals));
        Assert.NotNull(snapshot.LastRefusal);
        Assert.Null(snapshot.LastBackgroundRefusal);
        Assert.False(refusal.IsBackground);
    }

    [Fact]
    public async Task HttpClientFactoryClient_ARequestFailsWithTheRefusal_CountsAsReceived_AndHealthIsUnhealthy()
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        var services = new ServiceCollection().AddTuplePool(o =>
        {
            o.SourceAddresses = TestSources.Take(1);
            o.LocalPortRange = PortSlices.Integration.Take(1);
            o.AcquireTimeout = TimeSpan.FromMilliseconds(300);
        });
        services.AddHttpClient("backend", c => c.BaseAddress = server.BaseAddress).UseTuplePool();
        services.AddHealthChecks().AddTuplePool();
        await using var provider = services.BuildServiceProvider();
        var pool = provider.GetRequiredService<ISocketPool>();
        using var held = await pool.AcquireAsync(server.EndPoint);
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("backend");

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetStringAsync("/whoami", token));

        Assert.False(Assert.IsType<TupleBudgetExhaustedException>(error.InnerException).IsBackground);
        var snapshot = pool.GetSnapshot();
        Assert.Equal((1L, 0L), (snapshot.RefusedAcquires, snapshot.BackgroundRefusals));
        var health = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync(token);
        Assert.Equal(HealthStatus.Unhealthy, health.Status);
    }

    [Fact]
    public async Task InfiniteAcquireTimeout_TheConnectTimeoutBoundsTheWait_AndTheRequestGetsTheTypedRefusal()
    {
        // An infinite AcquireTimeout (-1 ms) compared as shorter than any ConnectTimeout: the
        // handler then cancelled the wait and the request got a bare cancellation.
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Integration.Take(1), AcquireTimeout = Timeout.InfiniteTimeSpan });
        using var held = await pool.AcquireAsync(server.EndPoint);
        using var client = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1) }.UseTuplePool(pool)) { BaseAddress = server.BaseAddress };

        var error = await Assert.ThrowsAnyAsync<Exception>(() => client.GetStringAsync("/whoami", token));

        Assert.IsType<HttpRequestException>(error);
        Assert.IsType<TupleBudgetExhaustedException>(error.InnerException);
    }

    [Fact]
    public async Task DirectAcquire_ARefusal_IsOneTheCallerReceived()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Next(1), AcquireTimeout = TimeSpan.FromMilliseconds(200) });
        using var held = await pool.AcquireAsync(server.EndPoint);

        var refusal = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.False(refusal.IsBackground);
        Assert.Equal((1L, 0L), (pool.GetSnapshot().RefusedAcquires, pool.GetSnapshot().BackgroundRefusals));
    }
}
