using System.Diagnostics;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// The tests that run a real OpenTelemetry SDK: one at a time, since an SDK's meter and tracer
/// providers listen to every <c>TuplePool</c> meter and source in the process. Each test gives its
/// pool a name of its own and reads only that pool's series, so other tests' pools running beside
/// it do not count.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OpenTelemetrySdkCollection
{
    public const string Name = "OpenTelemetry SDK";
}

/// <summary>
/// An OpenTelemetry SDK collecting the <c>TuplePool</c> meter and <c>ActivitySource</c> (and the
/// tests' own parent source) into memory, as an application's <c>AddMeter("TuplePool")</c> and
/// <c>AddSource("TuplePool")</c> would.
/// </summary>
internal sealed class OpenTelemetrySdk : IDisposable
{
    /// <summary>The source tests start the caller's activity on.</summary>
    public static readonly ActivitySource Caller = new("TuplePool.Tests.Caller");

    private readonly List<MetricSnapshot> _metrics = [];
    private readonly List<Activity> _spans = [];
    private readonly MeterProvider _meters;
    private readonly TracerProvider _tracer;

    /// <param name="cardinalityLimit">Series per metric before the SDK folds the rest into one overflow series; null for the SDK's default (2,000).</param>
    public OpenTelemetrySdk(int? cardinalityLimit = null)
    {
        var meters = Sdk.CreateMeterProviderBuilder().AddMeter("TuplePool");
        if (cardinalityLimit is { } limit)
        {
            meters.AddView(_ => new MetricStreamConfiguration { CardinalityLimit = limit });
        }

        _meters = meters.AddInMemoryExporter(_metrics).Build();
        _tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource("TuplePool", Caller.Name)
            .SetSampler(new AlwaysOnSampler())
            .AddInMemoryExporter(_spans)
            .Build();
    }

    /// <summary>One collection of every instrument: what a periodic reader or a scrape does.</summary>
    public IReadOnlyList<MetricSnapshot> Collect()
    {
        lock (_metrics)
        {
            _metrics.Clear();
            _meters.ForceFlush();
            return [.. _metrics];
        }
    }

    /// <summary>The TuplePool spans ended so far in the trace of <paramref name="caller"/>.</summary>
    public IReadOnlyList<Activity> SpansUnder(Activity caller)
    {
        lock (_spans)
        {
            return [.. _spans.Where(s => s.Source.Name == "TuplePool" && s.TraceId == caller.TraceId)];
        }
    }

    public void Dispose()
    {
        _meters.Dispose();
        _tracer.Dispose();
    }
}

/// <summary>Reading exported metric points.</summary>
internal static class MetricPoints
{
    /// <summary>The points of <paramref name="name"/> whose <c>tuplepool.pool.name</c> is <paramref name="pool"/>.</summary>
    public static List<MetricPoint> Of(this IReadOnlyList<MetricSnapshot> metrics, string name, string pool)
        => [.. metrics.Where(m => m.Name == name).SelectMany(m => m.MetricPoints).Where(p => p.Tag("tuplepool.pool.name") as string == pool)];

    /// <summary>Every point of every TuplePool metric of <paramref name="pool"/>: one per series.</summary>
    public static List<(string Metric, MetricPoint Point)> SeriesOf(this IReadOnlyList<MetricSnapshot> metrics, string pool)
        => [.. metrics.SelectMany(m => m.MetricPoints.Select(p => (m.Name, p))).Where(s => s.p.Tag("tuplepool.pool.name") as string == pool)];

    public static object? Tag(this MetricPoint point, string key)
    {
        foreach (var tag in point.Tags)
        {
            if (tag.Key == key)
            {
                return tag.Value;
            }
        }

        return null;
    }

    public static IReadOnlyList<string> TagKeys(this MetricPoint point)
    {
        var keys = new List<string>();
        foreach (var tag in point.Tags)
        {
            keys.Add(tag.Key);
        }

        keys.Sort(StringComparer.Ordinal);
        return keys;
    }

    /// <summary>The value of a sum or up-down counter point.</summary>
    public static long Long(this MetricPoint point) => point.GetSumLong();

    /// <summary>The explicit bucket bounds of a histogram point (without the +Inf bucket), and the count in each bucket ending there (the last is +Inf).</summary>
    public static (List<double> Bounds, List<long> Counts) Buckets(this MetricPoint point)
    {
        var bounds = new List<double>();
        var counts = new List<long>();
        foreach (var bucket in point.GetHistogramBuckets())
        {
            if (!double.IsPositiveInfinity(bucket.ExplicitBound))
            {
                bounds.Add(bucket.ExplicitBound);
            }

            counts.Add(bucket.BucketCount);
        }

        return (bounds, counts);
    }

    /// <summary>
    /// The upper bound of the bucket the <paramref name="quantile"/> falls in, as Prometheus'
    /// <c>histogram_quantile</c> would place it (+Inf past the last bound).
    /// </summary>
    public static double Quantile(IReadOnlyList<double> bounds, IReadOnlyList<long> counts, double quantile)
    {
        var total = counts.Sum();
        var rank = quantile * total;
        long seen = 0;
        for (var i = 0; i < counts.Count; i++)
        {
            seen += counts[i];
            if (seen >= rank && seen > 0)
            {
                return i < bounds.Count ? bounds[i] : double.PositiveInfinity;
            }
        }

        return double.NaN;
    }
}
