using System.Net;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.HealthChecks;

/// <summary>The README's health-check snippet (samples/TuplePool.Samples.Readme/HealthChecks.cs) answers over HTTP.</summary>
public sealed class HealthChecksReadmeTests
{
    [Fact]
    public async Task Readme_HealthChecks_AnswerHealthyForIdlePools()
    {
        var ct = TestContext.Current.CancellationToken;
        int appPort;
        using (var probe = ListenerPorts.BindListener(IPAddress.Loopback))
        {
            appPort = ((IPEndPoint)probe.LocalEndPoint!).Port;
        }

        await using var app = TuplePool.Samples.Readme.HealthChecks.Build(appPort);
        await app.StartAsync(ct);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };

        using var response = await client.GetAsync("/healthz", ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync(ct));
        await app.StopAsync(ct);
    }
}
