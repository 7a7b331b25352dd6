using System.Diagnostics.Metrics;
using System.Net;
using TuplePool.Budget;
using TuplePool.Telemetry;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// Every histogram advises bucket boundaries fit to what it measures, and an OpenTelemetry SDK
/// uses them: microsecond connects and second-long waits land in different buckets, so
/// percentiles move (with the SDK's default boundaries, 0, 5, 10, … 10,000, both would sit in the first).
/// </summary>
[Collection(OpenTelemetrySdkCollection.Name)]
public sealed class HistogramAdviceTests
{
    private static readonly IPEndPoint Backend = new(IPAddress.Loopback, 7000); // never connected to: tags only
    private static readonly ConnectionTuple Tuple = new(IPAddress.Parse("127.0.0.2"), Backend);

    private readonly string _pool = $"advice-{Guid.NewGuid():N}";

    public static TheoryData<string, double, double> Advised => new()
    {
        // The histogram, its first and last advised boundary (seconds).
        { "tuplepool.connect.duration", 0.000025, 10 },
        { "tuplepool.acquire.duration", 0.0001, 60 },
        { "tuplepool.acquire.wait_duration", 0.001, 60 },
        { "tuplepool.connection.use_time", 0.001, 3600 },
    };

    private TuplePoolMetrics CreateSut() => new(meterFactory: null, new TuplePoolOptions { PoolName = _pool });

    [Theory]
    [MemberData(nameof(Advised))]
    public void Histogram_AdvisesExplicitBoundaries_FromItsScaleUp(string name, double first, double last)
    {
        using var sut = CreateSut();
        IReadOnlyList<double>? advised = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (instrument is Histogram<double> histogram && instrument.Name == name && instrument.Meter.Name == "TuplePool")
                {
                    advised = histogram.Advice?.HistogramBucketBoundaries;
                }
            },
        };
        listener.Start();

        Assert.NotNull(advised);
        Assert.Equal(first, advised[0]);
        Assert.Equal(last, advised[^1]);
        Assert.True(advised.Zip(advised.Skip(1)).All(p => p.First < p.Second), "boundaries ascend");
    }

    [Fact]
    public void OpenTelemetrySdk_UsesTheAdvisedBoundaries_ForEveryHistogram()
    {
        using var sdk = new OpenTelemetrySdk();
        using var sut = CreateSut();
        var destination = sut.ForDestination(Backend);
        sut.RecordConnect(TimeSpan.FromMicroseconds(60), Tuple);
        destination.RecordAcquire(TimeSpan.FromMicroseconds(200), reused: true);
        destination.RecordWait(TimeSpan.FromSeconds(1.5));
        destination.RecordUseTime(TimeSpan.FromMinutes(2));

        var metrics = sdk.Collect();

        Assert.Equal(HistogramBuckets.Connect, Assert.Single(metrics.Of("tuplepool.connect.duration", _pool)).Buckets().Bounds);
        Assert.Equal(HistogramBuckets.Acquire, Assert.Single(metrics.Of("tuplepool.acquire.duration", _pool)).Buckets().Bounds);
        Assert.Equal(HistogramBuckets.Wait, Assert.Single(metrics.Of("tuplepool.acquire.wait_duration", _pool)).Buckets().Bounds);
        Assert.Equal(HistogramBuckets.UseTime, Assert.Single(metrics.Of("tuplepool.connection.use_time", _pool)).Buckets().Bounds);
    }

    [Fact]
    public void MicrosecondConnectsAndSecondLongWaits_LandInTheirOwnBuckets()
    {
        using var sdk = new OpenTelemetrySdk();
        using var sut = CreateSut();
        var destination = sut.ForDestination(Backend);

        sut.RecordConnect(TimeSpan.FromMicroseconds(40), Tuple);     // loopback
        sut.RecordConnect(TimeSpan.FromMicroseconds(745), Tuple);    // a crowded tuple without IP_LOCAL_PORT_RANGE
        sut.RecordConnect(TimeSpan.FromMilliseconds(30), Tuple);     // across a region
        destination.RecordWait(TimeSpan.FromMilliseconds(2));         // a returned connection
        destination.RecordWait(TimeSpan.FromSeconds(1.5));            // room after a TIME_WAIT charge ran out

        var metrics = sdk.Collect();
        var connect = Assert.Single(metrics.Of("tuplepool.connect.duration", _pool)).Buckets();
        var wait = Assert.Single(metrics.Of("tuplepool.acquire.wait_duration", _pool)).Buckets();

        Assert.Equal(1, connect.Counts[BucketOf(connect.Bounds, 0.000040)]);
        Assert.Equal(1, connect.Counts[BucketOf(connect.Bounds, 0.000745)]);
        Assert.Equal(1, connect.Counts[BucketOf(connect.Bounds, 0.030)]);
        Assert.Equal(3, new[] { 0.000040, 0.000745, 0.030 }.Select(v => BucketOf(connect.Bounds, v)).Distinct().Count());
        Assert.NotEqual(BucketOf(wait.Bounds, 0.002), BucketOf(wait.Bounds, 1.5));
        Assert.Equal(0.0025, MetricPoints.Quantile(wait.Bounds, wait.Counts, 0.5));
        Assert.Equal(2.5, MetricPoints.Quantile(wait.Bounds, wait.Counts, 0.99));
    }

    [Fact]
    public void Percentiles_MoveWhenConnectsSlowDown()
    {
        using var sdk = new OpenTelemetrySdk();
        using var sut = CreateSut();
        for (var i = 0; i < 100; i++)
        {
            sut.RecordConnect(TimeSpan.FromMicroseconds(50), Tuple);
        }

        var fast = Assert.Single(sdk.Collect().Of("tuplepool.connect.duration", _pool)).Buckets();
        for (var i = 0; i < 100; i++)
        {
            sut.RecordConnect(TimeSpan.FromMilliseconds(4), Tuple);
        }

        var slower = Assert.Single(sdk.Collect().Of("tuplepool.connect.duration", _pool)).Buckets();

        Assert.Equal(0.00005, MetricPoints.Quantile(fast.Bounds, fast.Counts, 0.5));
        Assert.Equal(0.00005, MetricPoints.Quantile(fast.Bounds, fast.Counts, 0.99));
        Assert.Equal(0.00005, MetricPoints.Quantile(slower.Bounds, slower.Counts, 0.5));
        Assert.Equal(0.005, MetricPoints.Quantile(slower.Bounds, slower.Counts, 0.99));
    }

    /// <summary>The index of the bucket <paramref name="value"/> falls in: the first bound at or above it (buckets are upper-inclusive).</summary>
    private static int BucketOf(IReadOnlyList<double> bounds, double value)
    {
        for (var i = 0; i < bounds.Count; i++)
        {
            if (value <= bounds[i])
            {
                return i;
            }
        }

        return bounds.Count;
    }
}
