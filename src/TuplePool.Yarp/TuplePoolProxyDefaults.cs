namespace TuplePool.Yarp;

/// <summary>The defaults of <see cref="TuplePoolProxyOptions"/>, internal so a later change reaches every caller.</summary>
internal static class TuplePoolProxyDefaults
{
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    /// <summary>The longest <see cref="TuplePoolProxyOptions.RetryAfter"/> accepted: a longer wait is a misconfiguration, not a hint.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromDays(1);
}
