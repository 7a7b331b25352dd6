using System.Net;
using Microsoft.Extensions.DependencyInjection;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's HttpClient examples: without DI, and with IHttpClientFactory and handler settings.</summary>
public static class HttpClientExamples
{
    public static async Task<string> WithoutDependencyInjectionAsync(Uri backend)
    {
        IList<IPAddress> sources = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3")];

        // <readme name="httpclient">
        // Without DI: one pool shared by the handler's connections.
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = sources });
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool));
        var answer = await client.GetStringAsync(backend);
        // </readme>
        return answer;
    }

    public static ServiceProvider WithFactory(Microsoft.Extensions.Configuration.IConfiguration configuration, Uri backend)
    {
        var services = new ServiceCollection();

        // <readme name="httpclient-factory">
        // With IHttpClientFactory (package TuplePool.Http): the budget survives handler rotation.
        services.AddTuplePool(configuration.GetSection("TuplePool"));
        services.AddHttpClient("backend", c => c.BaseAddress = backend)
                .UseTuplePool()
                .UseSocketsHttpHandler((handler, _) =>
                {
                    // Handler settings go here. ConfigurePrimaryHttpMessageHandler(new SocketsHttpHandler { ... })
                    // would replace the handler UseTuplePool set up and bypass the pool.
                    handler.MaxConnectionsPerServer = 64;
                    handler.PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30);
                });
        // </readme>
        return services.BuildServiceProvider();
    }
}
