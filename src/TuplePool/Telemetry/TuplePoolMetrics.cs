using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using TuplePool.Budget;

namespace TuplePool.Telemetry;

/// <summary>
/// The pool's instruments on one <see cref="Meter"/> named <c>TuplePool</c>, in OpenTelemetry
/// style (mirroring <c>http.client.open_connections</c>). Counts of connections, TIME_WAIT and
/// remaining budget are observable, computed from a snapshot when a listener collects, so the
/// idle-hit path records nothing unless a duration listener is attached.
/// </summary>
internal sealed class TuplePoolMetrics : IDisposable
{
    public const string MeterName = "TuplePool";

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _acquireDuration;
    private readonly Histogram<double> _waitDuration;
    private readonly Histogram<double> _connectDuration;
    private readonly Counter<long> _connectErrors;
    private readonly Counter<long> _exhausted;

    public TuplePoolMetrics(IMeterFactory? meterFactory, Func<TuplePoolSnapshot> snapshot)
    {
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(MeterName));
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        _meter.CreateObservableUpDownCounter(
            "tuplepool.connection.count",
            () => ObserveConnections(snapshot()),
            unit: "{connection}",
            description: "Open connections of the pool by state (active = leased or connecting, idle = in the idle store).");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.tuple.time_wait",
            () => ObserveTuples(snapshot(), static u => u.TimeWait),
            unit: "{connection}",
            description: "Ports held in TIME_WAIT by the pool's own graceful closes, per tuple.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.tuple.remaining",
            () => ObserveTuples(snapshot(), static u => u.Remaining),
            unit: "{port}",
            description: "Ports still free for new connections, per tuple.");
        _acquireDuration = _meter.CreateHistogram<double>(
            "tuplepool.acquire.duration",
            unit: "s",
            description: "Time AcquireAsync took, from call to lease, including waiting and connecting.");
        _waitDuration = _meter.CreateHistogram<double>(
            "tuplepool.acquire.wait_duration",
            unit: "s",
            description: "Time an acquire spent waiting for budget or a returned connection.");
        _connectDuration = _meter.CreateHistogram<double>(
            "tuplepool.connect.duration",
            unit: "s",
            description: "Time one successful connect took (create, bind, connect).");
        _connectErrors = _meter.CreateCounter<long>(
            "tuplepool.connect.errors",
            unit: "{error}",
            description: "Connect attempts that failed, by error.type.");
        _exhausted = _meter.CreateCounter<long>(
            "tuplepool.budget.exhausted",
            unit: "{acquire}",
            description: "Acquires that gave up because no source had room within AcquireTimeout.");
    }

    public bool AcquireDurationEnabled => _acquireDuration.Enabled;

    public void RecordAcquire(TimeSpan elapsed, bool reused)
        => _acquireDuration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("tuplepool.connection.reused", reused));

    public void RecordWait(TimeSpan elapsed)
    {
        if (_waitDuration.Enabled)
        {
            _waitDuration.Record(elapsed.TotalSeconds);
        }
    }

    public void RecordConnect(TimeSpan elapsed, ConnectionTuple tuple)
    {
        if (_connectDuration.Enabled)
        {
            var tags = TupleTags(tuple);
            _connectDuration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public void RecordConnectError(string errorType, ConnectionTuple tuple)
    {
        if (_connectErrors.Enabled)
        {
            var tags = TupleTags(tuple);
            tags.Add("error.type", errorType);
            _connectErrors.Add(1, tags);
        }
    }

    public void RecordExhausted(string serverAddress, int serverPort)
    {
        if (_exhausted.Enabled)
        {
            _exhausted.Add(
                1,
                new KeyValuePair<string, object?>("server.address", serverAddress),
                new KeyValuePair<string, object?>("server.port", serverPort));
        }
    }

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static TagList TupleTags(ConnectionTuple tuple) => new()
    {
        { "network.local.address", tuple.Source.ToString() },
        { "server.address", tuple.Destination.Address.ToString() },
        { "server.port", tuple.Destination.Port },
    };

    private static IEnumerable<Measurement<long>> ObserveConnections(TuplePoolSnapshot snapshot)
    {
        foreach (var usage in snapshot.Tuples)
        {
            yield return new Measurement<long>(usage.Active, UsageTags(usage, "active"));
            yield return new Measurement<long>(usage.Idle, UsageTags(usage, "idle"));
        }
    }

    private static IEnumerable<Measurement<long>> ObserveTuples(TuplePoolSnapshot snapshot, Func<TupleUsage, int> value)
    {
        foreach (var usage in snapshot.Tuples)
        {
            yield return new Measurement<long>(value(usage), UsageTags(usage, state: null));
        }
    }

    private static TagList UsageTags(TupleUsage usage, string? state)
    {
        var tags = new TagList
        {
            { "network.local.address", usage.Source.ToString() },
            { "server.address", usage.Destination.Address.ToString() },
            { "server.port", usage.Destination.Port.ToString(CultureInfo.InvariantCulture) },
        };
        if (state is not null)
        {
            tags.Add("tuplepool.connection.state", state);
        }

        return tags;
    }
}
