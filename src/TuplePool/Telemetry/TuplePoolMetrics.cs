using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using TuplePool.Budget;

namespace TuplePool.Telemetry;

/// <summary>
/// The pool's instruments on one <see cref="Meter"/> named <c>TuplePool</c>, by the OpenTelemetry
/// conventions (mirroring <c>http.client.open_connections</c> and <c>db.client.connection.*</c>).
/// Every instrument carries <c>tuplepool.pool.name</c>; every histogram advises bucket boundaries
/// fit to what it measures (<see cref="HistogramBuckets"/>). Counts of connections, TIME_WAIT,
/// remaining budget and pending acquires are observable, computed when a listener collects, so
/// a destination or tuple that is gone simply stops being reported, and the idle-hit path records
/// nothing unless a duration listener is attached.
/// </summary>
/// <remarks>
/// <para>What the series are broken down by is <see cref="TuplePoolOptions.MetricDetail"/>:
/// the pool-wide totals (<c>tuplepool.connection.count</c>, <c>tuplepool.tuple.count</c>,
/// <c>tuplepool.budget.time_wait</c>, <c>tuplepool.budget.remaining</c>, the NAT's
/// <c>tuplepool.nat.*</c>) carry the pool's name alone at every level. From
/// <see cref="MetricDetail.Destination"/> on, the acquire instruments,
/// <c>tuplepool.connection.use_time</c> and <c>tuplepool.budget.exhausted</c> add the destination
/// as the caller gave it, <c>server.address</c> (host name or IP) and <c>server.port</c>. At
/// <see cref="MetricDetail.Tuple"/> the per-tuple instruments <c>tuplepool.tuple.*</c> appear and
/// <c>tuplepool.connect.*</c> add the tuple: <c>network.local.address</c> (the source IP),
/// <c>network.peer.address</c> (the destination IP), <c>server.address</c> (that IP too: a tuple
/// is per IP) and <c>server.port</c>. Ports are <see cref="int"/> on every instrument.</para>
/// <para>The observable callbacks of one collection share one read of the pool's state
/// (<see cref="CollectionRead{T}"/>): the totals, read without building per-tuple objects, or at
/// <see cref="MetricDetail.Tuple"/> one snapshot that every instrument reads from.</para>
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

    // The observable instruments, each its own consumer of the shared read.
    private const int ConnectionCountConsumer = 0;
    private const int TupleCountConsumer = 1;
    private const int TimeWaitConsumer = 2;
    private const int RemainingConsumer = 3;
    private const int NatConnectionsConsumer = 4;
    private const int NatHoldingConsumer = 5;
    private const int NatRemainingConsumer = 6;
    private const int TupleConnectionsConsumer = 7;
    private const int TupleTimeWaitConsumer = 8;
    private const int TupleRemainingConsumer = 9;

    private static readonly object s_true = true;
    private static readonly object s_false = false;
    private static readonly object s_active = "active";
    private static readonly object s_idle = "idle";

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
    private readonly bool _behindNat;
    private readonly TimeProvider _time;
    private volatile CollectionRead<PoolRead>? _read; // null before Observe and after Dispose: nothing is reported
    private volatile bool _disposed;

    /// <summary>
    /// The meter of the pool with <paramref name="options"/> (its name, <see cref="TuplePoolOptions.AcquireTimeout"/>,
    /// <see cref="TuplePoolOptions.MetricDetail"/> and whether it has a <see cref="TuplePoolOptions.Nat"/>;
    /// null for the defaults), on <paramref name="time"/>'s clock (<see cref="TimeProvider.System"/> when null).
    /// </summary>
    /// <remarks>The observable instruments come once the pool's parts exist: <see cref="Observe"/>.</remarks>
    public TuplePoolMetrics(IMeterFactory? meterFactory, TuplePoolOptions? options = null, TimeProvider? time = null)
    {
        PoolName = options?.PoolName ?? TuplePoolDefaults.PoolName;
        Detail = options?.MetricDetail ?? MetricDetail.Destination;
        _acquireTimeout = options?.AcquireTimeout ?? TuplePoolDefaults.AcquireTimeout;
        _behindNat = options?.Nat is not null;
        _time = time ?? TimeProvider.System;
        PoolNameTagValue = new(PoolNameTag, PoolName);
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(MeterName));
        }
        else
        {
            _meter = new Meter(MeterName);
            _ownsMeter = true;
        }

        _acquireDuration = _meter.CreateHistogram(
            "tuplepool.acquire.duration",
            unit: "s",
            description: "Time AcquireAsync took, from call to lease or failure (with error.type), including waiting and connecting.",
            tags: null,
            advice: HistogramBuckets.Advice(HistogramBuckets.Acquire));
        _waitDuration = _meter.CreateHistogram(
            "tuplepool.acquire.wait_duration",
            unit: "s",
            description: "Time an acquire spent waiting for budget or a returned connection.",
            tags: null,
            advice: HistogramBuckets.Advice(HistogramBuckets.Wait));
        _useTime = _meter.CreateHistogram(
            "tuplepool.connection.use_time",
            unit: "s",
            description: "Time between lending a connection and getting it back.",
            tags: null,
            advice: HistogramBuckets.Advice(HistogramBuckets.UseTime));
        _connectDuration = _meter.CreateHistogram(
            "tuplepool.connect.duration",
            unit: "s",
            description: "Time one successful connect took (create, bind, connect).",
            tags: null,
            advice: HistogramBuckets.Advice(HistogramBuckets.Connect));
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
    /// Creates the observable instruments, which read the pool's state at each collection, one
    /// read shared by all of them: <paramref name="totals"/> (the pool-wide sums, without per-tuple
    /// objects), or at <see cref="MetricDetail.Tuple"/> — and when <paramref name="totals"/> is
    /// null — <paramref name="snapshot"/>. Called once, by the pool, after its parts are built.
    /// </summary>
    public void Observe(Func<TuplePoolSnapshot> snapshot, Func<PoolTotals>? totals = null)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _read = new CollectionRead<PoolRead>(
            Detail == MetricDetail.Tuple || totals is null
                ? () => PoolRead.From(snapshot())
                : () => new PoolRead(null, totals()),
            _time);

        _meter.CreateObservableUpDownCounter(
            "tuplepool.connection.count",
            () => Read(ConnectionCountConsumer, static (self, r) => self.ObserveConnections(r.Totals)),
            unit: "{connection}",
            description: "Open connections of the pool by state: active (leased or connecting), idle (in the idle store).");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.tuple.count",
            () => Read(TupleCountConsumer, static (self, r) => self.Total(r.Totals.Tuples)),
            unit: "{tuple}",
            description: "(source, destination IP, destination port) tuples the pool holds ports on.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.budget.time_wait",
            () => Read(TimeWaitConsumer, static (self, r) => self.Total(r.Totals.TimeWait)),
            unit: "{port}",
            description: "Ports held in TIME_WAIT by the pool's own graceful closes, over every tuple.");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.budget.remaining",
            () => Read(RemainingConsumer, static (self, r) => self.Total(r.Totals.Remaining)),
            unit: "{port}",
            description: "Ports still free for new connections, summed over the tuples in use (tuplepool.tuple.count).");
        _meter.CreateObservableUpDownCounter(
            "tuplepool.acquire.pending",
            ObservePending,
            unit: "{request}",
            description: "Callers waiting for room or a returned connection.");

        if (_behindNat)
        {
            _meter.CreateObservableUpDownCounter(
                "tuplepool.nat.connection.count",
                () => Read(NatConnectionsConsumer, static (self, r) => self.Total(r.Totals.NatActive)),
                unit: "{connection}",
                description: "Connections open through the NAT (TuplePoolOptions.Nat).");
            _meter.CreateObservableUpDownCounter(
                "tuplepool.nat.holding",
                () => Read(NatHoldingConsumer, static (self, r) => self.Total(r.Totals.NatHolding)),
                unit: "{port}",
                description: "NAT ports still held after closes and resets.");
            _meter.CreateObservableUpDownCounter(
                "tuplepool.nat.remaining",
                () => Read(NatRemainingConsumer, static (self, r) => self.Total(r.Totals.NatRemaining)),
                unit: "{port}",
                description: "NAT ports still free for new connections, summed over the destinations behind the NAT the pool holds ports to.");
        }

        if (Detail == MetricDetail.Tuple)
        {
            _meter.CreateObservableUpDownCounter(
                "tuplepool.tuple.connection.count",
                () => Read(TupleConnectionsConsumer, static (self, r) => self.ObserveTupleConnections(r.Snapshot!)),
                unit: "{connection}",
                description: "Open connections by state, per tuple.");
            _meter.CreateObservableUpDownCounter(
                "tuplepool.tuple.time_wait",
                () => Read(TupleTimeWaitConsumer, static (self, r) => self.ObserveTuples(r.Snapshot!, static u => u.TimeWait)),
                unit: "{port}",
                description: "Ports held in TIME_WAIT by the pool's own graceful closes, per tuple.");
            _meter.CreateObservableUpDownCounter(
                "tuplepool.tuple.remaining",
                () => Read(TupleRemainingConsumer, static (self, r) => self.ObserveTuples(r.Snapshot!, static u => u.Remaining)),
                unit: "{port}",
                description: "Ports still free for new connections, per tuple.");
        }
    }

    /// <summary>The <c>tuplepool.pool.name</c> of every measurement: the DI key, or <c>"default"</c>.</summary>
    public string PoolName { get; }

    /// <summary>How finely the series are broken down (<see cref="TuplePoolOptions.MetricDetail"/>).</summary>
    public MetricDetail Detail { get; }

    /// <summary>True while a listener records <c>tuplepool.acquire.duration</c>: time acquires only then.</summary>
    public bool AcquireDurationEnabled => _acquireDuration.Enabled;

    internal Histogram<double> AcquireDuration => _acquireDuration;

    internal Histogram<double> WaitDuration => _waitDuration;

    internal Histogram<double> UseTime => _useTime;

    internal Counter<long> Exhausted => _exhausted;

    internal TimeSpan AcquireTimeout => _acquireTimeout;

    internal KeyValuePair<string, object?> PoolNameTagValue { get; }

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

    /// <summary>A connect that succeeded after <paramref name="elapsed"/> (tuple tags only at <see cref="MetricDetail.Tuple"/>).</summary>
    public void RecordConnect(TimeSpan elapsed, ConnectionTuple tuple)
    {
        if (_connectDuration.Enabled)
        {
            _connectDuration.Record(elapsed.TotalSeconds, ConnectTags(tuple));
        }
    }

    /// <summary>A connect attempt that failed with <paramref name="errorType"/> (<see cref="ErrorTypes"/>).</summary>
    public void RecordConnectError(string errorType, ConnectionTuple tuple)
    {
        if (_connectErrors.Enabled)
        {
            var tags = ConnectTags(tuple);
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

    /// <summary>An acquire refused for want of room, for a destination the pool keeps no recorder for; see <see cref="DestinationMetrics.RecordExhausted"/>.</summary>
    public void RecordExhausted(string serverAddress, int serverPort)
    {
        if (_exhausted.Enabled)
        {
            var tags = new TagList { PoolNameTagValue };
            if (Detail != MetricDetail.Pool)
            {
                tags.Add(ServerAddressTag, serverAddress);
                tags.Add(ServerPortTag, serverPort);
            }

            _exhausted.Add(1, tags);
        }
    }

    /// <summary>
    /// Stops every series of the pool. A meter from an <see cref="IMeterFactory"/> is the
    /// factory's, shared by every pool it made and kept after this one is gone, so its
    /// instruments stay on it; they report nothing from now on and let go of the pool's state.
    /// </summary>
    public void Dispose()
    {
        _disposed = true;
        _read = null;
        _destinations.Clear();
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    internal static object Box(bool value) => value ? s_true : s_false;

    internal void Remove(DestinationMetrics destination) => _destinations.TryRemove(destination, out _);

    private TagList ConnectTags(ConnectionTuple tuple)
    {
        if (Detail != MetricDetail.Tuple)
        {
            return new TagList { PoolNameTagValue };
        }

        var peer = tuple.Destination.Address.ToString();
        return new TagList
        {
            PoolNameTagValue,
            { LocalAddressTag, tuple.Source.ToString() },
            { PeerAddressTag, peer },
            { ServerAddressTag, peer },
            { ServerPortTag, tuple.Destination.Port },
        };
    }

    /// <summary>The measurements of one observable instrument from this collection's read; none once disposed.</summary>
    private IEnumerable<Measurement<long>> Read(int consumer, Func<TuplePoolMetrics, PoolRead, IEnumerable<Measurement<long>>> measure)
        => _read is { } read ? measure(this, read.Get(consumer)) : [];

    private Measurement<long>[] Total(long value) => [new(value, PoolNameTagValue)];

    private Measurement<long>[] ObserveConnections(PoolTotals totals) =>
    [
        new(totals.Active, PoolNameTagValue, new KeyValuePair<string, object?>(StateTag, s_active)),
        new(totals.Idle, PoolNameTagValue, new KeyValuePair<string, object?>(StateTag, s_idle)),
    ];

    private IEnumerable<Measurement<long>> ObserveTupleConnections(TuplePoolSnapshot snapshot)
    {
        foreach (var usage in snapshot.Tuples)
        {
            yield return new Measurement<long>(usage.Active, TupleTags(usage, s_active));
            yield return new Measurement<long>(usage.Idle, TupleTags(usage, s_idle));
        }
    }

    private IEnumerable<Measurement<long>> ObserveTuples(TuplePoolSnapshot snapshot, Func<TupleUsage, int> value)
    {
        foreach (var usage in snapshot.Tuples)
        {
            yield return new Measurement<long>(value(usage), TupleTags(usage, state: null));
        }
    }

    /// <summary>One series per destination from <see cref="MetricDetail.Destination"/> on, else their sum.</summary>
    private IEnumerable<Measurement<long>> ObservePending()
    {
        if (_disposed)
        {
            yield break;
        }

        if (Detail == MetricDetail.Pool)
        {
            long waiting = 0;
            foreach (var destination in _destinations.Keys)
            {
                waiting += destination.PendingCount?.Invoke() ?? 0;
            }

            yield return new Measurement<long>(waiting, PoolNameTagValue);
            yield break;
        }

        foreach (var destination in _destinations.Keys)
        {
            if (destination.PendingCount is { } pending)
            {
                yield return new Measurement<long>(pending(), destination.Tags());
            }
        }
    }

    private TagList TupleTags(TupleUsage usage, object? state)
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

    /// <summary>What one collection reads: the totals, and the snapshot they came from at <see cref="MetricDetail.Tuple"/>.</summary>
    private sealed record PoolRead(TuplePoolSnapshot? Snapshot, PoolTotals Totals)
    {
        public static PoolRead From(TuplePoolSnapshot snapshot) => new(snapshot, PoolTotals.Of(snapshot));
    }
}
