namespace TuplePool.Telemetry;

/// <summary>
/// One read of the pool's state shared by the observable instruments of one collection. A
/// listener (an OpenTelemetry reader, <c>dotnet-counters</c>, a <c>MeterListener</c>) collects by
/// calling each instrument's callback once in turn; each callback asks here as its own consumer.
/// The read is made again when a consumer that already had it asks again (its next collection),
/// or when it is older than <see cref="MaxAge"/> (another listener collecting other instruments
/// at another time), so a collection costs one read, whatever the number of instruments.
/// </summary>
/// <typeparam name="T">What is read.</typeparam>
internal sealed class CollectionRead<T>
    where T : notnull
{
    /// <summary>How long a read may serve consumers that have not had it yet.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private readonly Func<T> _read;
    private readonly TimeProvider _time;
    private T? _value;
    private long _readAt;
    private ulong _served; // one bit per consumer that had the current read; 0 before the first

    public CollectionRead(Func<T> read, TimeProvider time)
    {
        _read = read;
        _time = time;
    }

    /// <summary>The current read for <paramref name="consumer"/> (0–63), read anew when it had this one already or it is too old.</summary>
    public T Get(int consumer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(consumer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(consumer, 63);
        var bit = 1UL << consumer;
        lock (_gate)
        {
            var now = _time.GetTimestamp();
            if (_served == 0 || (_served & bit) != 0 || _time.GetElapsedTime(_readAt, now) > MaxAge)
            {
                _value = _read();
                _readAt = now;
                _served = 0;
            }

            _served |= bit;
            return _value!;
        }
    }
}
