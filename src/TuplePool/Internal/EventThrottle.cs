namespace TuplePool.Internal;

/// <summary>The interval of the throttled log events (3 and 4, src/TuplePool/Telemetry/Log.cs).</summary>
internal static class EventThrottle
{
    /// <summary>How often a throttled log event may repeat for one tuple or destination.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);
}
