using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using TuplePool.Budget;

namespace TuplePool.Telemetry;

/// <summary>
/// The pool's instruments on one <see cref="Meter"/> named <c>TuplePool</c>, by the OpenTelemetry
/// conventions (mirroring <c>http.client.open_connections</c> and <c>db.client.connection.*</c>).
/// Every instrument carries <c>tuplepool.pool.name</c>. Counts of connections, TIME_WAIT,
/// remaining budget and pending acquires are observable, computed when a listener collects, so a
/// destination or tuple that is gone simply stops being reported, and the idle-hit path records
/// nothing unless a duration listener is attached.
/// </summary>
/// <remarks>
/// Two kinds of tags. Per tuple (connection.count, tuple.*, connect.*): <c>network.local.address</c>
/// (the source IP), <c>network.peer.address</c> (the destination IP), <c>server.address</c> (that
/// IP too: a tuple is per IP, a name resolving to two addresses has two tuples) and
/// <c>server.port</c>. Per destination (acquire.*, connection.use_time, budget.exhausted): the
/// destination as the caller gave it, <c>server.address</c> (host name or IP) and
/// <c>server.port</c>. Ports are <see cref="int"/> on every instrument.
/// </remarks>
internal sealed class TuplePoolMetrics : IDisposable
{
    public const string MeterName = "TuplePool";

    internal const string PoolNameTag = "tuplepool.pool.name";
    internal const string StateTag = "tuplepool.connection.state";
    internal const string ReusedTag = "tuplepool.connection.reused";
    internal const string LocalAddressTag = "network.local.address";
    internal const string PeerAddressTag = "network.peer.address";
    internal const string ServerAddressTag = "server.address";
    internal const string ServerPortTag = "server.port";
    internal const string ErrorTypeTag = "error.type";

    private static readonly object s_true = true;
    private static readonly object s_false = false;

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Histogram<double> _acquireDuration;
    private readonly Histogram<double> _waitDuration;
    private readonly Histogram<double> _useTime;
    private readonly Histogram<double> _connectDuration;
    private readonly Counter<long> _connectErrors;
    private readonly Counter<long> _exhausted;
    private readonly ConcurrentDictionary<DestinationMetrics, byte> _destinations = new();
    private readonly TimeSpan _acquireTimeout;

    /// <summary>The meter of the pool with <paramref name="options"/> (its name and <see cref="TuplePoolOptions.AcquireTimeout"/>; null for the defaults).</summary>
    /// <remarks>The observable instruments come once the pool's parts exist: <see cref="Observe"/>.</remarks>
    public TuplePoolMetrics(IMeterFactory? meterFactory, TuplePoolOptions? options = null)
    {
        PoolName = options?.PoolName ?? TuplePoolDefaults.PoolName;
        _acquireTimeout = options?.AcquireTimeout ?? TuplePoolDefaults.AcquireTimeout;
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(MeterName));
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        _acquireDuration = _meter.CreateHistogram<double>(
            "tuplepool.acquire.duration",
            unit: "s",
            description: "Time AcquireAsync took, from call to lease or failure (with error.type), including waiting and connecting.");
        _waitDuration = _meter.CreateHistogram<double>(
            "tuplepool.acquire.wait_duration",
            unit: "s",
            description: "Time an acquire spent waiting for budget or a returned connection.");
        _useTime = _meter.CreateHistogram<double>(
            "tuplepool.connection.use_time",
            unit: "s",
            description: "Time between lending a connection and getting it back.");
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
            description: "Acquires that gave up because no source had room.");
    }

    /// <summary>
    /// Creates the observable instruments, which read the pool's state through
    /// <paramref name="snapshot"/> at each collection. Called once, by the pool, after its parts are built.
    /// </summary>
    public void Observe(Func<TuplePoolSnapshot> snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _meter.CreateObservableUpDownCounter(
            "tuplepool.connection.count",
            () => ObserveConnections(snapshot()),
            unit: "{connection}",
            description: "Open connections of the pool by state (active = leased or connecting, idle = in the idle store), per tuple.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.tuple.time_wait",
            () => ObserveTuples(snapshot(), static u => u.TimeWait),
            unit: "{port}",
            description: "Ports held in TIME_WAIT by the pool's own graceful closes, per tuple.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.tuple.remaining",
            () => ObserveTuples(snapshot(), static u => u.Remaining),
            unit: "{port}",
            description: "Ports still free for new connections, per tuple.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.acquire.pending",
            ObservePending,
            unit: "{request}",
            description: "Callers waiting for room or a returned connection, per destination.");
    }

    /// <summary>The <c>tuplepool.pool.name</c> of every measurement: the DI key, or <c>"default"</c>.</summary>
    public string PoolName { get; }

    /// <summary>True while a listener records <c>tuplepool.acquire.duration</c>: time acquires only then.</summary>
    public bool AcquireDurationEnabled => _acquireDuration.Enabled;

    internal Histogram<double> AcquireDuration => _acquireDuration;

    internal Histogram<double> WaitDuration => _waitDuration;

    internal Histogram<double> UseTime => _useTime;

    internal Counter<long> Exhausted => _exhausted;

    internal TimeSpan AcquireTimeout => _acquireTimeout;

    /// <summary>
    /// The per-destination recorder: one per destination the pool keeps, created with it and
    /// disposed when the destination goes (its <c>tuplepool.acquire.pending</c> series drops then).
    /// <paramref name="pendingCount"/> is read on each collection: how many callers wait now.
    /// </summary>
    public DestinationMetrics ForDestination(EndPoint destination, Func<int>? pendingCount = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var metrics = new DestinationMetrics(this, destination, pendingCount);
        _destinations.TryAdd(metrics, 0);
        return metrics;
    }

    /// <summary>
    /// A lease handed out, without destination tags. Kept for call sites not yet moved to
    /// <see cref="DestinationMetrics.RecordAcquire"/>, which adds <c>server.address</c>/<c>server.port</c>.
    /// </summary>
    public void RecordAcquire(TimeSpan elapsed, bool reused)
        => _acquireDuration.Record(elapsed.TotalSeconds, PoolNameTagValue, new KeyValuePair<string, object?>(ReusedTag, Box(reused)));

    /// <summary>A wait ended, without destination tags; see <see cref="DestinationMetrics.RecordWait"/>.</summary>
    public void RecordWait(TimeSpan elapsed)
    {
        if (_waitDuration.Enabled)
        {
            _waitDuration.Record(elapsed.TotalSeconds, PoolNameTagValue);
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
            tags.Add(ErrorTypeTag, errorType);
            _connectErrors.Add(1, tags);
        }
    }

    /// <summary>A failed connect attempt, its <c>error.type</c> from <see cref="ErrorTypes.Of(Exception)"/>.</summary>
    public void RecordConnectError(Exception error, ConnectionTuple tuple)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (_connectErrors.Enabled)
        {
            RecordConnectError(ErrorTypes.Of(error), tuple);
        }
    }

    /// <summary>An acquire refused for want of room; see <see cref="DestinationMetrics.RecordExhausted"/>.</summary>
    public void RecordExhausted(string serverAddress, int serverPort)
    {
        if (_exhausted.Enabled)
        {
            _exhausted.Add(
                1,
                PoolNameTagValue,
                new KeyValuePair<string, object?>(ServerAddressTag, serverAddress),
                new KeyValuePair<string, object?>(ServerPortTag, serverPort));
        }
    }

    public void Dispose()
    {
        _destinations.Clear();
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    internal KeyValuePair<string, object?> PoolNameTagValue => new(PoolNameTag, PoolName);

    internal static object Box(bool value) => value ? s_true : s_false;

    internal void Remove(DestinationMetrics destination) => _destinations.TryRemove(destination, out _);

    private TagList TupleTags(ConnectionTuple tuple) => new()
    {
        PoolNameTagValue,
        { LocalAddressTag, tuple.Source.ToString() },
        { PeerAddressTag, tuple.Destination.Address.ToString() },
        { ServerAddressTag, tuple.Destination.Address.ToString() },
        { ServerPortTag, tuple.Destination.Port },
    };

    private IEnumerable<Measurement<long>> ObserveConnections(TuplePoolSnapshot snapshot)
    {
        foreach (var usage in snapshot.Tuples)
        {
            yield return new Measurement<long>(usage.Active, UsageTags(usage, "active"));
            yield return new Measurement<long>(usage.Idle, UsageTags(usage, "idle"));
        }
    }

    private IEnumerable<Measurement<long>> ObserveTuples(TuplePoolSnapshot snapshot, Func<TupleUsage, int> value)
    {
        foreach (var usage in snapshot.Tuples)
        {
            yield return new Measurement<long>(value(usage), UsageTags(usage, state: null));
        }
    }

    private IEnumerable<Measurement<long>> ObservePending()
    {
        foreach (var destination in _destinations.Keys)
        {
            if (destination.PendingCount is { } pending)
            {
                yield return new Measurement<long>(pending(), destination.Tags());
            }
        }
    }

    private TagList UsageTags(TupleUsage usage, string? state)
    {
        var peer = usage.Destination.Address.ToString();
        var tags = new TagList
        {
            PoolNameTagValue,
            { LocalAddressTag, usage.Source.ToString() },
            { PeerAddressTag, peer },
            { ServerAddressTag, peer },
            { ServerPortTag, usage.Destination.Port },
        };
        if (state is not null)
        {
            tags.Add(StateTag, state);
        }

        return tags;
    }
}
