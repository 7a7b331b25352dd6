using System.Net;
using Grpc.Net.Client;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's gRPC examples: a channel over a pooled handler, and AddGrpcClient with UseTuplePool.</summary>
public static class GrpcExamples
{
    public static async Task<string> WithChannelAsync(Uri backend)
    {
        IList<IPAddress> sources = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3")];

        // <readme name="grpc-channel">
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = sources });
        using var channel = GrpcChannel.ForAddress(backend, new GrpcChannelOptions
        {
            // Past the server's streams per connection (Kestrel: 100), open another HTTP/2
            // connection through the pool instead of queueing the call.
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true }.UseTuplePool(pool),
        });
        var greeter = new Greeter.GreeterClient(channel);
        var reply = await greeter.SayHelloAsync(new HelloRequest { Name = "pool" });
        // </readme>
        return reply.Message;
    }

    public static ServiceProvider WithFactory(IConfiguration configuration, Uri backend)
    {
        var services = new ServiceCollection();

        // <readme name="grpc-factory">
        services.AddTuplePool(configuration.GetSection("TuplePool"));
        services.AddGrpcClient<Greeter.GreeterClient>(o => o.Address = backend)
                .UseTuplePool();   // package TuplePool.Http; keeps gRPC's EnableMultipleHttp2Connections handler
        // </readme>
        return services.BuildServiceProvider();
    }
}
