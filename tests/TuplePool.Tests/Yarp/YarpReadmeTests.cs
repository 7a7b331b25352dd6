using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using TuplePool.Tests.Http;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Yarp;

/// <summary>The README's YARP gateway (samples/TuplePool.Samples.Readme/Yarp.cs) forwards through its pools over HTTP.</summary>
public sealed class YarpReadmeTests
{
    [Fact]
    public async Task Readme_Yarp_ApiThroughItsOwnPool_LegacyThroughTheNamedPool_SnapshotPerCluster()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var api1 = await TestHttpServer.StartAsync(ct);
        await using var api2 = await TestHttpServer.StartAsync(ct);
        await using var legacy = await TestHttpServer.StartAsync(ct);
        int appPort;
        using (var probe = ListenerPorts.BindListener(IPAddress.Loopback))
        {
            appPort = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        await using var app = TuplePool.Samples.Readme.YarpGateway.Build(appPort, api1.BaseAddress.Port, api2.BaseAddress.Port, legacy.BaseAddress.Port);
        await app.StartAsync(ct);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };

        var api = await client.GetStringAsync("/api/whoami", ct);
        var old = await client.GetStringAsync("/legacy/whoami", ct);
        var pools = await client.GetFromJsonAsync<JsonElement>("/pools/api", ct);
        using var unknown = await client.GetAsync("/pools/nope", ct);

        Assert.Contains(api, new[] { "127.0.0.2", "127.0.0.3" });
        Assert.Equal("127.0.0.4", old);
        // Only the tuple that holds something is listed: the one connection, from the source it came from.
        var tuples = pools.GetProperty("tuples").EnumerateArray().ToList();
        var used = Assert.Single(tuples);
        Assert.Equal((api, 1), (used.GetProperty("source").GetString(), used.GetProperty("active").GetInt32()));
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        await app.StopAsync(ct);
    }
}
