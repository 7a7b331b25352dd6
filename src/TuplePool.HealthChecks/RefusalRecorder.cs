using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using TuplePool.Telemetry;

namespace TuplePool.HealthChecks;

/// <summary>
/// Counts one pool's refusals for exhaustion from its <c>tuplepool.budget.exhausted</c> counter,
/// with the time of the last one. Interim: SocketPool does not keep this itself yet.
/// </summary>
/// <remarks>
/// A measurement is the pool's when its meter was made by the same <see cref="IMeterFactory"/>
/// (the container's; null matches pools built without one) and, once the pool tags its
/// instruments with <c>tuplepool.pool.name</c>, when the name matches. Until then, keyed pools of
/// one container share a meter and see each other's refusals. Refusals before the first health
/// check are not seen: the listener starts with it.
/// </remarks>
internal sealed class RefusalRecorder : IDisposable
{
    internal const string ExhaustedInstrument = "tuplepool.budget.exhausted";
    internal const string PoolNameTag = "tuplepool.pool.name";

    private readonly MeterListener _listener;
    private readonly object? _scope;
    private readonly string _poolName;
    private readonly TimeProvider _timeProvider;
    private long _total;
    private long _lastUtcTicks;

    public RefusalRecorder(IMeterFactory? scope, string poolName, TimeProvider timeProvider)
    {
        _scope = scope;
        _poolName = poolName;
        _timeProvider = timeProvider;
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == ExhaustedInstrument
                    && instrument.Meter.Name == TuplePoolMetrics.MeterName
                    && ReferenceEquals(instrument.Meter.Scope, _scope))
                {
                    listener.EnableMeasurementEvents(instrument, this);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((RefusalRecorder)state!).OnRefused(value, tags));
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public DateTimeOffset? Last
    {
        get
        {
            var ticks = Interlocked.Read(ref _lastUtcTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    public void Dispose() => _listener.Dispose();

    private void OnRefused(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == PoolNameTag && !string.Equals(tag.Value as string, _poolName, StringComparison.Ordinal))
            {
                return;
            }
        }

        Interlocked.Add(ref _total, value);
        Interlocked.Exchange(ref _lastUtcTicks, _timeProvider.GetUtcNow().UtcTicks);
    }
}

/// <summary>One <see cref="RefusalRecorder"/> per pool name, for the container's lifetime.</summary>
internal sealed class RefusalRecorders(IMeterFactory? meterFactory, TimeProvider timeProvider) : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<RefusalRecorder>> _recorders = new(StringComparer.Ordinal);

    public RefusalRecorder For(string poolName)
        => _recorders.GetOrAdd(poolName, name => new Lazy<RefusalRecorder>(() => new RefusalRecorder(meterFactory, name, timeProvider))).Value;

    public void Dispose()
    {
        foreach (var recorder in _recorders.Values)
        {
            if (recorder.IsValueCreated)
            {
                recorder.Value.Dispose();
            }
        }
    }
}
