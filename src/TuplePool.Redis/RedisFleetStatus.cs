namespace TuplePool.Redis;

/// <summary>
/// How a <see cref="RedisFleetBudget"/> stands with Redis (<see cref="RedisFleetBudget.Status"/>),
/// for a health check. In every state the instance holds no more than it may: what changes is
/// whether it can grow beyond its static share.
/// </summary>
public enum RedisFleetStatus
{
    /// <summary>Redis answered the last request; grants grow and shrink as needed.</summary>
    Connected,

    /// <summary>
    /// Redis answers, but lost the fleet's keys not long ago (restarted empty, flushed, failed over)
    /// or the fleet just started: for <see cref="RedisFleetOptions.RecoveryWindow"/> it grants nothing
    /// beyond what instances re-assert. Destinations get their static share and what they held.
    /// </summary>
    Recovering,

    /// <summary>
    /// The last request to Redis failed or timed out. Grants are kept until their lease ends, then
    /// each destination falls back to the static share; nothing is asked again until Redis answers.
    /// </summary>
    Unreachable,

    /// <summary>
    /// Redis refused this instance: its NAT capacity or reserved static shares
    /// (<see cref="NatOptions.PortsPerDestination"/>, <see cref="RedisFleetOptions.ExpectedInstances"/>,
    /// <see cref="RedisFleetOptions.StaticShareFraction"/>) differ from the fleet's. It keeps to its
    /// static share; give every instance the same settings.
    /// </summary>
    Misconfigured,
}
