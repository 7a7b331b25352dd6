using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace TuplePool.Redis.Telemetry;

/// <summary>
/// The fleet budget's instruments on a <see cref="Meter"/> named <c>TuplePool.Redis</c>. Every
/// measurement carries <c>tuplepool.fleet.name</c>; none carries a destination (a crawler's
/// million destinations would be a million series): per-destination detail is in the logs.
/// </summary>
internal sealed class FleetMetrics : IDisposable
{
    public const string MeterName = "TuplePool.Redis";

    internal const string FleetTag = "tuplepool.fleet.name";
    internal const string StatusTag = "tuplepool.fleet.status";
    internal const string ErrorTypeTag = "error.type";

    private static readonly double[] s_durationBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly KeyValuePair<string, object?> _fleet;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _requestDuration;
    private readonly Counter<long> _leasesEnded;
    private readonly Counter<long> _keysLost;

    public FleetMetrics(IMeterFactory? meterFactory, string fleetName, Func<RedisFleetStatus> status, Func<long> grantedPorts, Func<long> destinations)
    {
        _fleet = new(FleetTag, fleetName);
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(MeterName));
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        _requests = _meter.CreateCounter<long>(
            "tuplepool.fleet.requests",
            unit: "{request}",
            description: "Grant requests sent to Redis (each one round trip), with error.type when one failed.");
        _requestDuration = _meter.CreateHistogram(
            "tuplepool.fleet.request.duration",
            unit: "s",
            description: "Time from sending a grant request to Redis's answer or the failure.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = s_durationBuckets });
        _leasesEnded = _meter.CreateCounter<long>(
            "tuplepool.fleet.leases_ended",
            unit: "{grant}",
            description: "Grants that ended without renewal (Redis unreachable): the destination fell back to the static share.");
        _keysLost = _meter.CreateCounter<long>(
            "tuplepool.fleet.keys_lost",
            unit: "{bucket}",
            description: "Key buckets whose epoch changed under this instance: Redis lost the fleet's keys (restart without persistence, flush, failover).");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.fleet.granted",
            () => new Measurement<long>(grantedPorts(), _fleet),
            unit: "{port}",
            description: "Ports granted to this instance by Redis beyond its static shares, summed over destinations.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.fleet.destinations",
            () => new Measurement<long>(destinations(), _fleet),
            unit: "{destination}",
            description: "Destinations whose use is near or past the static share, so coordinated through Redis.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.fleet.degraded",
            () => Degraded(status()),
            unit: "{instance}",
            description: "1 while Redis is unreachable or refused this instance (tuplepool.fleet.status says which): grants fall back to the static share; else 0.");
    }

    public void RequestSucceeded(TimeSpan duration)
    {
        _requests.Add(1, _fleet);
        _requestDuration.Record(duration.TotalSeconds, _fleet);
    }

    public void RequestFailed(TimeSpan duration, string errorType)
    {
        var error = new KeyValuePair<string, object?>(ErrorTypeTag, errorType);
        _requests.Add(1, _fleet, error);
        _requestDuration.Record(duration.TotalSeconds, _fleet, error);
    }

    public void LeasesEnded(int count) => _leasesEnded.Add(count, _fleet);

    public void KeysLost() => _keysLost.Add(1, _fleet);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private Measurement<long> Degraded(RedisFleetStatus status)
    {
        var degraded = status is RedisFleetStatus.Unreachable or RedisFleetStatus.Misconfigured ? 1 : 0;
        return new Measurement<long>(degraded, _fleet, new KeyValuePair<string, object?>(StatusTag, StatusName(status)));
    }

    internal static string StatusName(RedisFleetStatus status) => status switch
    {
        RedisFleetStatus.Connected => "connected",
        RedisFleetStatus.Recovering => "recovering",
        RedisFleetStatus.Unreachable => "unreachable",
        RedisFleetStatus.Misconfigured => "misconfigured",
        _ => "unknown",
    };

    internal static string ErrorType(Exception exception) => exception switch
    {
        TimeoutException => "timeout",
        StackExchange.Redis.RedisConnectionException => "connection",
        StackExchange.Redis.RedisServerException => "server",
        _ => exception.GetType().FullName ?? "error",
    };
}
