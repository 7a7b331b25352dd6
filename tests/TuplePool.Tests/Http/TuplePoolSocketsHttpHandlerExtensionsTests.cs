using System.Net;
using Xunit;

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
}
