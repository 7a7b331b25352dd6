namespace TuplePool.Internal;

/// <summary>Conversions between <see cref="TimeSpan"/> and <see cref="TimeProvider"/> timestamps.</summary>
internal static class Timestamps
{
    /// <summary>
    /// <paramref name="span"/> in <see cref="TimeProvider.GetTimestamp"/> units of
    /// <paramref name="timeProvider"/>, rounded up so a deadline computed with it is never early;
    /// 0 for zero or negative spans.
    /// </summary>
    public static long ToTicks(TimeSpan span, TimeProvider timeProvider)
        => span <= TimeSpan.Zero ? 0 : (long)Math.Ceiling(span.Ticks * (double)timeProvider.TimestampFrequency / TimeSpan.TicksPerSecond);
}
