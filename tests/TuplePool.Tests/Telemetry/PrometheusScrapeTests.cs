using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using TuplePool.Samples.Readme;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// The README's telemetry example (samples/TuplePool.Samples.Readme/Telemetry.cs) scraped as
/// Prometheus scrapes it: <c>GET /metrics</c> on a loopback port shows
/// <c>tuplepool_connect_duration_seconds</c> with the advised buckets, and its percentiles move
/// when a connect is slow. The slow connect is real: the backend's accept queue is full, so the
/// kernel drops the SYN and the client sends it again after its 1 s retransmission timeout.
/// </summary>
[Collection(OpenTelemetrySdkCollection.Name)]
public sealed partial class PrometheusScrapeTests
{
    [Fact]
    public async Task Scrape_ShowsConnectBuckets_AndTheirPercentilesMove()
    {
        var ct = TestContext.Current.CancellationToken;
        using var backend = ListenerPorts.Bind(IPAddress.Loopback, 20000, backlog: 0); // one connection fits in its accept queue
        var backendPort = ((IPEndPoint)backend.LocalEndPoint!).Port;
        var appPort = FreeListeningPort();
        await using var app = Samples.Readme.Telemetry.Build(appPort, backendPort, PortSlices.Next(20).ToString());
        await app.StartAsync(ct);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{appPort}") };

        // Fast connects: each accepted at once, the connection closed on return.
        var accepted = new List<Socket>();
        for (var i = 0; i < 5; i++)
        {
            var lease = client.GetStringAsync("/lease?invalidate=true", ct);
            accepted.Add(await backend.AcceptAsync(ct));
            await lease;
        }

        var fast = Histogram(await client.GetStringAsync("/metrics", ct), "tuplepool_connect_duration_seconds");

        // A slow one: the queue holds one connection nobody accepted, so the next SYN is dropped.
        var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await filler.ConnectAsync(backend.LocalEndPoint!, ct);
        var slow = client.GetStringAsync("/lease", ct);
        await Task.Delay(TimeSpan.FromMilliseconds(300), ct);
        accepted.Add(await backend.AcceptAsync(ct)); // the filler: room for the SYN sent again
        accepted.Add(await backend.AcceptAsync(ct)); // the slow connect
        await slow;
        var slowed = Histogram(await client.GetStringAsync("/metrics", ct), "tuplepool_connect_duration_seconds");

        var output = TestContext.Current.TestOutputHelper;
        output?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"5 fast connects: p50 <= {fast.Quantile(0.5)} s, p99 <= {fast.Quantile(0.99)} s ({fast.Count} connects)"));
        output?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"+ 1 slow connect: p50 <= {slowed.Quantile(0.5)} s, p99 <= {slowed.Quantile(0.99)} s ({slowed.Count} connects)"));
        output?.WriteLine(string.Join('\n', BucketLine().Matches(await client.GetStringAsync("/metrics", ct)).Select(m => m.Value).Where(l => l.StartsWith("tuplepool_connect_duration_seconds_bucket", StringComparison.Ordinal))));

        Assert.Equal(5, fast.Count);
        Assert.Equal(6, slowed.Count);
        Assert.Contains(0.000025, fast.Bounds);  // microsecond buckets, not 0, 5, 10, …
        Assert.Contains(0.0001, fast.Bounds);
        Assert.True(fast.Quantile(0.99) <= 0.25, $"p99 {fast.Quantile(0.99)} before the slow connect");
        Assert.True(slowed.Quantile(0.99) >= 0.5, $"p99 {slowed.Quantile(0.99)} after a connect that waited for a SYN retransmission");
        Assert.Equal(fast.Quantile(0.5), slowed.Quantile(0.5));
        filler.Dispose();
        foreach (var socket in accepted)
        {
            socket.Dispose();
        }

        await app.StopAsync(ct);
    }

    /// <summary>The cumulative buckets of <paramref name="name"/> for the sample's pool, as <c>histogram_quantile</c> reads them.</summary>
    private static PrometheusHistogram Histogram(string scrape, string name)
    {
        var buckets = new List<(double Le, long Count)>();
        foreach (Match m in BucketLine().Matches(scrape))
        {
            if (m.Groups["name"].Value == name && m.Groups["labels"].Value.Contains($"tuplepool_pool_name=\"{Samples.Readme.Telemetry.PoolName}\"", StringComparison.Ordinal))
            {
                var le = m.Groups["le"].Value == "+Inf" ? double.PositiveInfinity : double.Parse(m.Groups["le"].Value, CultureInfo.InvariantCulture);
                buckets.Add((le, long.Parse(m.Groups["count"].Value, CultureInfo.InvariantCulture)));
            }
        }

        Assert.True(buckets.Count > 2, $"no {name}_bucket lines for the sample's pool in:\n{scrape}");
        return new PrometheusHistogram(buckets);
    }

    private static int FreeListeningPort()
    {
        using var probe = ListenerPorts.BindListener(IPAddress.Loopback);
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    [GeneratedRegex("""^(?<name>[a-z_]+)_bucket\{(?<labels>[^}]*?)le="(?<le>[^"]+)"[^}]*\} (?<count>\d+)""", RegexOptions.Multiline)]
    private static partial Regex BucketLine();

    private sealed record PrometheusHistogram(List<(double Le, long Count)> Buckets)
    {
        public long Count => Buckets.Max(b => b.Count);

        public List<double> Bounds => [.. Buckets.Select(b => b.Le).Where(le => !double.IsPositiveInfinity(le))];

        /// <summary>The upper bound of the bucket the quantile falls in.</summary>
        public double Quantile(double q)
        {
            var rank = q * Count;
            return Buckets.OrderBy(b => b.Le).First(b => b.Count >= rank && b.Count > 0).Le;
        }
    }
}
