using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Samples.Readme;
using TuplePool.Tests.Yarp;

namespace TuplePool.Tests.Grpc;

/// <summary>The README's gRPC snippets (samples/TuplePool.Samples.Readme/Grpc.cs) against a Kestrel Greeter on loopback, HTTP/2 without TLS.</summary>
public sealed class GrpcReadmeTests
{
    [Fact]
    public async Task Readme_GrpcChannel_CallsThroughThePool()
    {
        var connections = new List<IPEndPoint>();
        await using var server = await StartGreeterAsync(connections);

        var message = await GrpcExamples.WithChannelAsync(server.BaseAddress);

        Assert.Equal("hello pool", message);
        Assert.Contains(Assert.Single(connections).Address.ToString(), new[] { "127.0.0.2", "127.0.0.3" });
    }

    [Fact]
    public async Task Readme_GrpcFactory_CallsThroughTheContainersPool()
    {
        var connections = new List<IPEndPoint>();
        await using var server = await StartGreeterAsync(connections);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.4",
        }).Build();
        await using var services = GrpcExamples.WithFactory(configuration, server.BaseAddress);

        var reply = await services.GetRequiredService<Greeter.GreeterClient>().SayHelloAsync(new HelloRequest { Name = "factory" }, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal("hello factory", reply.Message);
        Assert.Equal("127.0.0.4", Assert.Single(connections).Address.ToString());
        Assert.Equal(1, Assert.Single(services.GetRequiredService<ISocketPool>().GetSnapshot().Tuples).Active);
    }

    private static Task<LoopbackKestrel> StartGreeterAsync(List<IPEndPoint> connections) => LoopbackKestrel.StartAsync(
        builder => builder.Services.AddGrpc(),
        app => app.MapGrpcService<GreeterService>(),
        HttpProtocols.Http2,
        client =>
        {
            lock (connections)
            {
                connections.Add(client);
            }
        });

    private sealed class GreeterService : Greeter.GreeterBase
    {
        public override Task<HelloReply> SayHello(HelloRequest request, ServerCallContext context)
            => Task.FromResult(new HelloReply { Message = "hello " + request.Name });
    }
}
