using System.Net;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// The series the meter makes with 1,000 tuples (4 sources × 250 destinations), as an
/// OpenTelemetry SDK exports them: a fixed number at <see cref="MetricDetail.Pool"/>, one per
/// destination (not per tuple) at <see cref="MetricDetail.Destination"/>, the default, and
/// per tuple only at <see cref="MetricDetail.Tuple"/>. No traffic: the connects are stand-ins.
/// </summary>
[Collection(OpenTelemetrySdkCollection.Name)]
public sealed class SeriesCountTests
{
    private const int Destinations = 250;

    private readonly string _pool = $"series-{Guid.NewGuid():N}";

    /// <summary>Every TuplePool series of the pool after <paramref name="sources"/> leases to each destination (one tuple each) and one returned per destination.</summary>
    private async Task<List<(string Metric, OpenTelemetry.Metrics.MetricPoint Point)>> SeriesAsync(MetricDetail detail, int sources)
    {
        using var sdk = new OpenTelemetrySdk(cardinalityLimit: 20_000);
        var options = new TuplePoolOptions { SourceAddresses = TestSources.Take(sources), PoolName = _pool, MetricDetail = detail };
        await using var pool = new SocketPool(options, new FakeTimeProvider(), null, null, new StandInConnector(), Substitute.For<IKernelCensus>(), TestKernel.Create());
        var leases = new List<SocketLease>();
        for (var port = 1; port <= Destinations; port++)
        {
            var destination = new IPEndPoint(IPAddress.Loopback, port); // never connected to: the connector stands in
            for (var i = 0; i < sources; i++)
            {
                leases.Add(await pool.AcquireAsync(destination));
            }
        }

        Assert.Equal(Destinations * sources, pool.GetSnapshot().Tuples.Count);
        foreach (var lease in leases.Where((_, i) => i % sources == 0))
        {
            lease.Dispose(); // one idle per destination: use_time too
        }

        var series = sdk.Collect().SeriesOf(_pool);
        foreach (var lease in leases)
        {
            lease.Dispose();
        }

        return series;
    }

    [Fact]
    public async Task PoolDetail_1000Tuples_AFixedHandfulOfSeries()
    {
        var series = await SeriesAsync(MetricDetail.Pool, sources: 4);

        // connection.count (active, idle), tuple.count, budget.time_wait, budget.remaining,
        // acquire.pending, acquire.duration (reused=false), connect.duration, connection.use_time.
        Assert.Equal(9, series.Count);
        Assert.All(series, s => Assert.DoesNotContain("server.address", s.Point.TagKeys()));
    }

    [Fact]
    public async Task DestinationDetail_TheDefault_1000Tuples_SeriesPerDestinationNotPerTuple()
    {
        Assert.Equal(MetricDetail.Destination, new TuplePoolOptions().MetricDetail);

        var oneSource = await SeriesAsync(MetricDetail.Destination, sources: 1);
        var fourSources = await SeriesAsync(MetricDetail.Destination, sources: 4);

        // Four times the tuples, the same series: acquire.duration, acquire.pending and
        // connection.use_time per destination, the totals and connect.duration once.
        Assert.Equal(oneSource.Count, fourSources.Count);
        Assert.Equal((3 * Destinations) + 6, fourSources.Count);
        Assert.All(fourSources, s => Assert.DoesNotContain("network.local.address", s.Point.TagKeys()));
        Assert.Equal(Destinations, fourSources.Count(s => s.Metric == "tuplepool.acquire.pending"));
        Assert.Single(fourSources, s => s.Metric == "tuplepool.connect.duration");
    }

    [Fact]
    public async Task TupleDetail_1000Tuples_SeriesPerTuple()
    {
        var series = await SeriesAsync(MetricDetail.Tuple, sources: 4);

        var tuples = Destinations * 4;
        Assert.Equal(2 * tuples, series.Count(s => s.Metric == "tuplepool.tuple.connection.count"));
        Assert.Equal(tuples, series.Count(s => s.Metric == "tuplepool.tuple.time_wait"));
        Assert.Equal(tuples, series.Count(s => s.Metric == "tuplepool.tuple.remaining"));
        Assert.Equal(tuples, series.Count(s => s.Metric == "tuplepool.connect.duration"));
        Assert.True(series.Count > 5 * tuples, $"{series.Count} series");
    }
}
