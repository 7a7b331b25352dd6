using System.Diagnostics.Metrics;

namespace TuplePool.Telemetry;

/// <summary>
/// The explicit bucket boundaries (in seconds) every histogram of the pool advises, as
/// <c>System.Net.Http</c> does for <c>http.client.connection.duration</c>. Without advice an
/// OpenTelemetry SDK falls back to 0, 5, 10, … 10,000, which puts every connect and acquire in
/// the first bucket. Each set is fit to what it measures; listed in the README's Telemetry table.
/// </summary>
internal static class HistogramBuckets
{
    /// <summary>
    /// <c>tuplepool.connect.duration</c>: tens of microseconds on loopback and in a data centre
    /// (about 40-55 µs measured here, ~745 µs on a crowded tuple without <c>IP_LOCAL_PORT_RANGE</c>),
    /// milliseconds across regions, up to <see cref="TuplePoolOptions.ConnectTimeout"/> (10 s).
    /// </summary>
    public static IReadOnlyList<double> Connect { get; } =
        [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>
    /// <c>tuplepool.acquire.duration</c>: sub-millisecond for an idle hit or a near connect,
    /// milliseconds to seconds when it connects far away or waits, up to
    /// <see cref="TuplePoolOptions.AcquireTimeout"/> (30 s) and beyond.
    /// </summary>
    public static IReadOnlyList<double> Acquire { get; } =
        [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>
    /// <c>tuplepool.acquire.wait_duration</c>: a wait for a returned connection (milliseconds) or
    /// for room — a TIME_WAIT charge running out takes up to 60 s — bounded by AcquireTimeout.
    /// </summary>
    public static IReadOnlyList<double> Wait { get; } =
        [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>
    /// <c>tuplepool.connection.use_time</c>: from one request's milliseconds to a stream held for
    /// an hour, like <c>http.client.connection.duration</c>'s seconds-to-minutes.
    /// </summary>
    public static IReadOnlyList<double> UseTime { get; } =
        [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

    /// <summary>The advice for an instrument with <paramref name="boundaries"/>.</summary>
    public static InstrumentAdvice<double> Advice(IReadOnlyList<double> boundaries) => new() { HistogramBucketBoundaries = boundaries };
}
