namespace TuplePool.Redis;

/// <summary>Defaults and limits of <see cref="RedisFleetOptions"/>, and the fixed parts of the key schema.</summary>
internal static class RedisFleetDefaults
{
    public const string KeyPrefix = "tuplepool:";

    public static readonly TimeSpan LeaseTime = TimeSpan.FromSeconds(30);

    public static readonly TimeSpan MinLeaseTime = TimeSpan.FromMilliseconds(200);

    public const int ChunkSize = 64;

    public const int MaxChunkSize = 65536;

    public const int MaxExpectedInstances = 100_000;

    public const double StaticShareFraction = 0.25;

    public static readonly TimeSpan WaitRetryInterval = TimeSpan.FromMilliseconds(250);

    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a lowered local grant is published before Redis is told: a pool that read the old
    /// grant just before it was lowered reports the port it took within this time
    /// (<see cref="Grants.DestinationGrant"/> explains the race).
    /// </summary>
    public static readonly TimeSpan ShrinkSettleTime = TimeSpan.FromMilliseconds(100);
}
