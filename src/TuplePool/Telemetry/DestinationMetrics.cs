using System.Diagnostics;
using System.Net;

namespace TuplePool.Telemetry;

/// <summary>
/// Records the per-destination instruments (<c>tuplepool.acquire.duration</c>,
/// <c>tuplepool.acquire.wait_duration</c>, <c>tuplepool.connection.use_time</c>,
/// <c>tuplepool.budget.exhausted</c>) with the destination's <c>server.address</c> and
/// <c>server.port</c> (from <see cref="MetricDetail.Destination"/> on; the pool's name alone at
/// <see cref="MetricDetail.Pool"/>), and reports its <c>tuplepool.acquire.pending</c>. The tag
/// values are made once, so recording allocates nothing; its wait spans
/// (<see cref="TuplePoolTracing.StartWait"/>) carry the same values. Created by
/// <see cref="TuplePoolMetrics.ForDestination"/> with the destination; dispose it when the
/// destination is dropped so its series stop.
/// </summary>
internal sealed class DestinationMetrics : IDisposable
{
    private readonly TuplePoolMetrics _owner;
    private readonly KeyValuePair<string, object?> _poolName;
    private readonly KeyValuePair<string, object?> _serverAddress;
    private readonly KeyValuePair<string, object?> _serverPort;
    private readonly bool _withDestination;

    internal DestinationMetrics(TuplePoolMetrics owner, EndPoint destination, Func<int>? pendingCount)
    {
        _owner = owner;
        PendingCount = pendingCount;
        var (host, port) = destination switch
        {
            IPEndPoint ip => (ip.Address.ToString(), ip.Port),
            DnsEndPoint name => (name.Host, name.Port),
            _ => (destination.ToString() ?? string.Empty, 0),
        };
        _poolName = owner.PoolNameTagValue;
        _serverAddress = new(TuplePoolMetrics.ServerAddressTag, host);
        _serverPort = new(TuplePoolMetrics.ServerPortTag, port);
        _withDestination = owner.Detail != MetricDetail.Pool;
    }

    /// <summary>The pool's name, for the spans of this destination.</summary>
    internal string PoolName => _owner.PoolName;

    /// <summary>The <c>server.address</c> tag: the destination as the caller gave it (host name or IP).</summary>
    internal KeyValuePair<string, object?> ServerAddress => _serverAddress;

    /// <summary>The <c>server.port</c> tag (an <see cref="int"/>).</summary>
    internal KeyValuePair<string, object?> ServerPort => _serverPort;

    /// <summary>Callers waiting now, read when <c>tuplepool.acquire.pending</c> is collected; null reports nothing.</summary>
    internal Func<int>? PendingCount { get; }

    /// <summary>True while a listener records <c>tuplepool.connection.use_time</c>: take the lend timestamp only then.</summary>
    public bool UseTimeEnabled => _owner.UseTime.Enabled;

    /// <summary>An acquire that returned a lease after <paramref name="elapsed"/>.</summary>
    public void RecordAcquire(TimeSpan elapsed, bool reused)
    {
        var histogram = _owner.AcquireDuration;
        if (histogram.Enabled)
        {
            var tags = Tags();
            tags.Add(TuplePoolMetrics.ReusedTag, TuplePoolMetrics.Box(reused));
            histogram.Record(elapsed.TotalSeconds, tags);
        }
    }

    /// <summary>
    /// An acquire that threw <paramref name="error"/> after <paramref name="elapsed"/>: timed out,
    /// refused, cancelled, a connect error, the pool disposed (<see cref="ErrorTypes.ForAcquire"/>).
    /// </summary>
    public void RecordAcquireFailed(TimeSpan elapsed, Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        var histogram = _owner.AcquireDuration;
        if (histogram.Enabled)
        {
            var tags = Tags();
            tags.Add(TuplePoolMetrics.ErrorTypeTag, ErrorTypes.ForAcquire(error, elapsed, _owner.AcquireTimeout));
            histogram.Record(elapsed.TotalSeconds, tags);
        }
    }

    /// <summary>A wait for budget or a returned connection that ended (either way) after <paramref name="elapsed"/>.</summary>
    public void RecordWait(TimeSpan elapsed)
    {
        var histogram = _owner.WaitDuration;
        if (histogram.Enabled)
        {
            histogram.Record(elapsed.TotalSeconds, Tags());
        }
    }

    /// <summary>A lease given back (returned or closed) <paramref name="elapsed"/> after it was lent.</summary>
    public void RecordUseTime(TimeSpan elapsed)
    {
        var histogram = _owner.UseTime;
        if (histogram.Enabled)
        {
            histogram.Record(elapsed.TotalSeconds, Tags());
        }
    }

    /// <summary>An acquire refused because no source had room (<c>tuplepool.budget.exhausted</c>).</summary>
    public void RecordExhausted()
    {
        var counter = _owner.Exhausted;
        if (counter.Enabled)
        {
            counter.Add(1, Tags());
        }
    }

    /// <summary>Stops this destination's <c>tuplepool.acquire.pending</c> series.</summary>
    public void Dispose() => _owner.Remove(this);

    internal TagList Tags() => _withDestination ? new() { _poolName, _serverAddress, _serverPort } : new() { _poolName };
}
