using TuplePool.Tests.Support;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Platform;

namespace TuplePool.Tests.Http;

public sealed class TuplePoolSocketsHttpHandlerExtensionsTests
{
    [Fact]
    public void UseTuplePool_NewHandler_SetsConnectCallbackAndReturnsHandler()
    {
        using var handler = new SocketsHttpHandler();

        var result = handler.UseTuplePool(new FakeSocketPool());

        Assert.Same(handler, result);
        Assert.NotNull(handler.ConnectCallback);
    }

    [Fact]
    public void UseTuplePool_HandlerWithCallback_ThrowsClearInvalidOperation()
    {
        using var handler = new SocketsHttpHandler { ConnectCallback = static (_, _) => ValueTask.FromResult<Stream>(Stream.Null) };

        var e = Assert.Throws<InvalidOperationException>(() => handler.UseTuplePool(new FakeSocketPool()));

        Assert.StartsWith("The SocketsHttpHandler already has a ConnectCallback", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UseTuplePool_Twice_Throws()
    {
        using var handler = new SocketsHttpHandler().UseTuplePool(new FakeSocketPool());

        Assert.Throws<InvalidOperationException>(() => handler.UseTuplePool(new FakeSocketPool()));
    }

    [Fact]
    public void UseTuplePool_NullArguments_Throw()
    {
        using var handler = new SocketsHttpHandler();

        Assert.Throws<ArgumentNullException>(() => handler.UseTuplePool(null!));
        Assert.Throws<ArgumentNullException>(() => TuplePoolSocketsHttpHandlerExtensions.UseTuplePool(null!, new FakeSocketPool()));
    }

    [Fact]
    public async Task Send_BudgetExhausted_HttpRequestExceptionWithInnerTupleBudgetExhausted()
    {
        // The fake pool fails before any socket exists: no traffic, the port is never dialled.
        var pool = new FakeSocketPool();
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));

        var e = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("http://127.0.0.1:9/", TestContext.Current.CancellationToken));

        var inner = Assert.IsType<TupleBudgetExhaustedException>(e.InnerException);
        Assert.Equal(System.Net.Sockets.SocketError.AddressNotAvailable, inner.SocketErrorCode);
        Assert.Equal(HttpRequestError.ConnectionError, e.HttpRequestError);
    }

    [Theory]
    [InlineData("http://127.0.0.1:9/", "127.0.0.1", 9)]
    [InlineData("http://127.0.0.2:80/", "127.0.0.2", 80)]
    [InlineData("http://[::1]:9/", "::1", 9)]
    public async Task Send_LiteralAddress_PoolGetsIPEndPointWithoutDns(string url, string address, int port)
    {
        var pool = new FakeSocketPool();
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(url, TestContext.Current.CancellationToken));

        Assert.Equal(new IPEndPoint(IPAddress.Parse(address), port), Assert.Single(pool.Acquired));
    }

    [Theory]
    [InlineData("http://localhost:9/", "localhost")]
    [InlineData("http://backend.internal:9/", "backend.internal")]
    public async Task Send_HostName_PoolGetsDnsEndPointToResolve(string url, string host)
    {
        var pool = new FakeSocketPool();
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));

        await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync(url, TestContext.Current.CancellationToken));

        var destination = Assert.IsType<DnsEndPoint>(Assert.Single(pool.Acquired));
        Assert.Equal(host, destination.Host);
        Assert.Equal(9, destination.Port);
    }

    private static readonly IPAddress[] FourSources = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3"), IPAddress.Parse("127.0.0.4"), IPAddress.Parse("127.0.0.5")];

    [Fact]
    public async Task Send_FourSourcesAndParallelConnections_ServerSeesEverySource()
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = [.. FourSources], LocalPortRange = PortSlices.Integration.Take(50) });
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool)) { BaseAddress = server.BaseAddress };

        // Held at the server, the eight requests need eight connections at once.
        var requests = Enumerable.Range(0, 8).Select(_ => client.GetStringAsync("/hold", token)).ToList();
        Assert.True(await TestHttpServer.EventuallyAsync(() => server.Held == 8, TimeSpan.FromSeconds(20)), $"only {server.Held} of 8 requests reached the server");
        server.Release();
        var answers = await Task.WhenAll(requests);

        string[] expected = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
        Assert.Equal(expected, server.ClientAddresses.Keys.Select(a => a.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal(expected, answers.Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(8, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task Send_SequentialRequests_HttpClientKeepsOneConnectionAlive()
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = [FourSources[0]], LocalPortRange = PortSlices.Integration.Take(10) });
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool)) { BaseAddress = server.BaseAddress };

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal("127.0.0.2", await client.GetStringAsync("/whoami", token));
        }

        var tuple = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(1, tuple.Active);
        Assert.Equal(0, tuple.Idle);
    }

    [Fact]
    public async Task Send_NarrowRangeManyParallelRequests_EachSucceedsOrFailsWithBudgetExhausted()
    {
        const int Requests = 30;
        const int Ports = 10;
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = [FourSources[0]],
            LocalPortRange = PortSlices.Integration.Take(Ports),
            AcquireTimeout = TimeSpan.FromMilliseconds(300),
        });
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool)) { BaseAddress = server.BaseAddress };

        var requests = Enumerable.Range(0, Requests).Select(_ => client.GetStringAsync("/hold", token)).ToList();

        // The server holds the requests that got a connection until every other one has given up,
        // so the budget stays full while they wait.
        Assert.True(
            await TestHttpServer.EventuallyAsync(() => server.Held + requests.Count(r => r.IsCompleted) >= Requests, TimeSpan.FromSeconds(30)),
            $"{server.Held} held and {requests.Count(r => r.IsCompleted)} done of {Requests}");
        server.Release();
        var outcomes = await Task.WhenAll(requests.Select(async r =>
        {
            try
            {
                return (Answer: await r, Error: (Exception?)null);
            }
            catch (Exception e)
            {
                return (Answer: (string?)null, Error: e);
            }
        }));

        var succeeded = outcomes.Count(o => o.Error is null);
        foreach (var (answer, error) in outcomes)
        {
            if (error is null)
            {
                Assert.Equal("127.0.0.2", answer);
            }
            else
            {
                var e = Assert.IsType<HttpRequestException>(error);
                Assert.IsType<TupleBudgetExhaustedException>(e.InnerException);
            }
        }

        // At most the budget got through, and at least one request was turned away. (Fewer than
        // the budget can succeed when another process's listener sits on a port of the slice.)
        Assert.InRange(succeeded, 1, Ports);
        Assert.True(succeeded < Requests, "no request was turned away");
        Assert.Equal(succeeded, server.Held);
    }

    [Theory]
    [InlineData(CloseMode.Graceful, 4)]
    [InlineData(CloseMode.Abortive, 0)]
    public async Task Dispose_HttpClientDisposed_EveryLeaseEndedAndTheLedgerAgreesWithTheKernel(CloseMode closeMode, int expectedTimeWait)
    {
        var token = TestContext.Current.CancellationToken;
        await using var server = await TestHttpServer.StartAsync(token);

        // Fake time keeps the TIME_WAIT charge of graceful closes from expiring while we look.
        var time = new FakeTimeProvider();
        var slice = PortSlices.Integration.Take(20);
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = [FourSources[0]], LocalPortRange = slice, CloseMode = closeMode }, time);
        var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool)) { BaseAddress = server.BaseAddress };
        var requests = Enumerable.Range(0, 4).Select(_ => client.GetStringAsync("/hold", token)).ToList();
        Assert.True(await TestHttpServer.EventuallyAsync(() => server.Held == 4, TimeSpan.FromSeconds(20)));
        server.Release();
        await Task.WhenAll(requests);
        Assert.Equal(4, pool.GetSnapshot().TotalActive);
        Assert.Equal(4, KernelSockets.Count(slice, server.EndPoint, TcpState.Established));

        client.Dispose();

        Assert.True(await TestHttpServer.EventuallyAsync(() => pool.GetSnapshot().TotalActive == 0, TimeSpan.FromSeconds(20)), "HttpClient's connections were not handed back");
        var tuples = pool.GetSnapshot().Tuples;
        var timeWait = tuples.Sum(t => t.TimeWait);
        Assert.Equal(expectedTimeWait, timeWait);
        Assert.Equal(expectedTimeWait == 0 ? 0 : 1, tuples.Count); // a tuple that holds nothing is not listed
        Assert.All(tuples, t => Assert.Equal(t.Capacity - expectedTimeWait, t.Remaining));

        // The ledger against the kernel, on this test's own client port slice (the server's port
        // may carry TIME_WAIT of earlier runs): what the pool charges is what `ss` would show.
        var kernelTimeWait = await KernelSockets.WaitForCountAsync(slice, server.EndPoint, TcpState.TimeWait, n => n == timeWait);
        Assert.Equal(timeWait, kernelTimeWait);
        Assert.Equal(0, await KernelSockets.WaitForCountAsync(slice, server.EndPoint, TcpState.Established, n => n == 0));
    }
}
