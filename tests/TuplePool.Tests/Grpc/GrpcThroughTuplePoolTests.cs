using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Grpc;

/// <summary>
/// Grpc.Net.Client through <c>SocketsHttpHandler.UseTuplePool(pool)</c> against a real Kestrel gRPC
/// server on loopback, HTTP/2 without TLS: the pool opens the HTTP/2 connections (from 127.0.0.2,
/// in the test's port slice) and counts them, and with <c>EnableMultipleHttp2Connections</c> the
/// handler opens more than one when the server's stream limit is reached.
/// </summary>
public sealed class GrpcThroughTuplePoolTests
{
    private static readonly IPAddress Source = IPAddress.Parse("127.0.0.2");

    [Fact]
    public async Task UnaryAndServerStreamingCalls_GoThroughThePool_OnOneHttp2Connection()
    {
        var range = PortSlices.Integration.Take(10);
        await using var server = await EchoServer.StartAsync();
        await using var pool = CreatePool(range);
        using var channel = CreateChannel(server, pool);
        var client = new Echo.EchoClient(channel);

        var replies = new List<EchoReply>();
        for (var i = 0; i < 3; i++)
        {
            replies.Add(await client.SayAsync(new EchoRequest { Text = $"hello {i}" }, cancellationToken: TestContext.Current.CancellationToken));
        }

        using var stream = client.Count(new CountRequest { Count = 5 }, cancellationToken: TestContext.Current.CancellationToken);
        var counted = new List<string>();
        await foreach (var reply in stream.ResponseStream.ReadAllAsync(TestContext.Current.CancellationToken))
        {
            counted.Add(reply.Text);
        }

        Assert.Equal(["hello 0", "hello 1", "hello 2"], replies.Select(r => r.Text));
        Assert.Equal(["1", "2", "3", "4", "5"], counted);
        var connection = Assert.Single(server.Connections.Keys);
        AssertOnThePoolsTuple(connection, range);
        Assert.All(replies, r => Assert.Equal(connection.ToString(), r.Peer));
        var tuple = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal((Source, server.EndPoint, 1), (tuple.Source, tuple.Destination, tuple.Active));
    }

    [Fact]
    public async Task MoreConcurrentStreamsThanTheServerAllowsPerConnection_Http2OpensMoreConnections_EachOnThePoolsTuple()
    {
        // Two streams per connection: six held streams need three connections at least.
        var range = PortSlices.Integration.Take(20);
        await using var server = await EchoServer.StartAsync(maxStreamsPerConnection: 2);
        await using var pool = CreatePool(range);
        using var channel = CreateChannel(server, pool);
        var client = new Echo.EchoClient(channel);

        // One call first, so the handler has the server's SETTINGS (the stream limit) before the burst.
        await client.SayAsync(new EchoRequest { Text = "settings" }, cancellationToken: TestContext.Current.CancellationToken);
        var streams = Enumerable.Range(0, 6).Select(_ => ReadAllAsync(client.Count(new CountRequest { Count = 3, Hold = true }, cancellationToken: TestContext.Current.CancellationToken))).ToList();
        Assert.True(await Eventually.TrueAsync(() => server.HeldStreams == 6), $"{server.HeldStreams} of 6 streams open");

        var connections = server.Connections.Keys.ToList();
        TestContext.Current.TestOutputHelper?.WriteLine($"{connections.Count} connections: {string.Join(", ", connections)}");
        var tuple = Assert.Single(pool.GetSnapshot().Tuples);
        server.Release();
        var results = await Task.WhenAll(streams);

        Assert.True(connections.Count >= 3, $"{connections.Count} connections for 6 streams of at most 2 per connection");
        Assert.All(connections, c => AssertOnThePoolsTuple(c, range));
        Assert.Equal((Source, server.EndPoint), (tuple.Source, tuple.Destination));
        Assert.Equal(connections.Count, tuple.Active);
        Assert.All(results, r => Assert.Equal(["1", "2", "3"], r.Texts));
        Assert.True(results.Select(r => r.Peer).Distinct().Count() >= 3, "the streams were spread over at least three connections");
    }

    [Fact]
    public async Task AddGrpcClientWithUseTuplePool_ConnectsThroughTheContainersPool_AndKeepsGrpcsMultipleHttp2Connections()
    {
        // Grpc.Net.ClientFactory's own primary handler has EnableMultipleHttp2Connections on;
        // TuplePool.Http's UseTuplePool() sets the callback on that handler instead of replacing it.
        var range = PortSlices.Integration.Take(20);
        await using var server = await EchoServer.StartAsync(maxStreamsPerConnection: 2);
        var services = new ServiceCollection().AddTuplePool(o =>
        {
            o.SourceAddresses.Add(Source);
            o.LocalPortRange = range;
        });
        services.AddGrpcClient<Echo.EchoClient>(o => o.Address = server.Address).UseTuplePool();
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<Echo.EchoClient>();

        await client.SayAsync(new EchoRequest { Text = "settings" }, cancellationToken: TestContext.Current.CancellationToken);
        var streams = Enumerable.Range(0, 4).Select(_ => ReadAllAsync(client.Count(new CountRequest { Count = 2, Hold = true }, cancellationToken: TestContext.Current.CancellationToken))).ToList();
        Assert.True(await Eventually.TrueAsync(() => server.HeldStreams == 4), $"{server.HeldStreams} of 4 streams open");
        var connections = server.Connections.Keys.ToList();
        var tuple = Assert.Single(provider.GetRequiredService<ISocketPool>().GetSnapshot().Tuples);
        server.Release();
        await Task.WhenAll(streams);

        Assert.True(connections.Count >= 2, $"{connections.Count} connections for 4 streams of at most 2 per connection");
        Assert.All(connections, c => AssertOnThePoolsTuple(c, range));
        Assert.Equal(connections.Count, tuple.Active);
    }

    private static SocketPool CreatePool(PortRange range) => new(new TuplePoolOptions
    {
        SourceAddresses = { Source },
        LocalPortRange = range,
        AcquireTimeout = TimeSpan.FromSeconds(10),
    });

    private static GrpcChannel CreateChannel(EchoServer server, ISocketPool pool)
        => GrpcChannel.ForAddress(server.Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true }.UseTuplePool(pool),
        });

    private static void AssertOnThePoolsTuple(IPEndPoint client, PortRange range)
    {
        Assert.Equal(Source, client.Address);
        Assert.InRange(client.Port, range.First, range.Last);
    }

    private static async Task<(List<string> Texts, string Peer)> ReadAllAsync(AsyncServerStreamingCall<EchoReply> call)
    {
        using (call)
        {
            var texts = new List<string>();
            var peer = "";
            await foreach (var reply in call.ResponseStream.ReadAllAsync())
            {
                texts.Add(reply.Text);
                peer = reply.Peer;
            }

            return (texts, peer);
        }
    }
}
