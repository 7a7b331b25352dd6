using System.Globalization;

namespace TuplePool.Redis;

/// <summary>
/// How a <see cref="RedisFleetBudget"/> shares a NAT's ports with the rest of its fleet through
/// Redis. Every instance of one fleet must give the same <see cref="FleetName"/>,
/// <see cref="KeyPrefix"/>, <see cref="ExpectedInstances"/> and <see cref="StaticShareFraction"/>
/// (and the same <see cref="NatOptions.PortsPerDestination"/>): the Redis scripts refuse an instance
/// whose capacity or reserved static shares differ from the fleet's, and it then keeps to its
/// static share (<see cref="RedisFleetStatus.Misconfigured"/>).
/// </summary>
/// <remarks>
/// Per destination the NAT's capacity splits in two. Every instance owns a static share,
/// <c>floor(PortsPerDestination × StaticShareFraction ÷ ExpectedInstances)</c> ports, which it spends
/// without asking Redis (most destinations of a crawler never leave it, so they have no Redis key)
/// and keeps when Redis is unreachable; the rest, <c>PortsPerDestination − ExpectedInstances ×
/// static share</c>, is granted through Redis in chunks of <see cref="ChunkSize"/>, leased for
/// <see cref="LeaseTime"/>. The static shares are reserved whether used or not, which is what keeps
/// the sum of what the instances may hold within the NAT's capacity when Redis is down or an
/// instance is cut off from it, as long as no more than <see cref="ExpectedInstances"/> instances run.
/// </remarks>
public sealed class RedisFleetOptions
{
    /// <summary>
    /// The fleet: the instances that share one NAT. Part of every Redis key, so two fleets on one
    /// Redis never meet.
    /// </summary>
    /// <value>Default: none (empty, which validation refuses). Up to 100 characters, no <c>{</c> or <c>}</c> (they would change the keys' Redis Cluster hash tags).</value>
    public string FleetName { get; set; } = string.Empty;

    /// <summary>The start of every key this fleet writes in Redis.</summary>
    /// <value>Default: <c>"tuplepool:"</c>. Up to 100 characters, no <c>{</c> or <c>}</c>; may be empty.</value>
    public string KeyPrefix { get; set; } = RedisFleetDefaults.KeyPrefix;

    /// <summary>
    /// How long a grant from Redis lasts unless renewed: it is renewed in the background every third
    /// of it. When Redis cannot be reached for this long the instance falls back to its static share;
    /// an instance that crashed has its grant counted in Redis for this long after its last renewal,
    /// plus <see cref="NatOptions.HoldAfterClose"/> (the NAT keeps its mappings that long).
    /// </summary>
    /// <value>Default: 30 seconds. From 200 milliseconds to 1 day.</value>
    public TimeSpan LeaseTime { get; set; } = RedisFleetDefaults.LeaseTime;

    /// <summary>
    /// Ports asked for at once when the grant runs low. One Redis round trip per chunk: a destination
    /// that opens <c>R</c> new connections a second costs about <c>R ÷ ChunkSize</c> grant requests a
    /// second. Unused ports go back when more than two chunks lie unused at a renewal (one chunk of
    /// headroom stays), so the grant does not flap between asking and handing back.
    /// </summary>
    /// <value>Default: 64 ports. From 1 to 65,536.</value>
    public int ChunkSize { get; set; } = RedisFleetDefaults.ChunkSize;

    /// <summary>
    /// The most instances of the fleet that ever run at once behind the NAT, including the surge of a
    /// rolling deploy. Each has a static share reserved for it; more instances than this could
    /// together hold more than the NAT's capacity when Redis is unreachable.
    /// </summary>
    /// <value>Default: none (0, which validation refuses). From 1 to 100,000.</value>
    public int ExpectedInstances { get; set; }

    /// <summary>
    /// Share of an even split (<c>PortsPerDestination ÷ ExpectedInstances</c>) that each instance owns
    /// outright per destination: spent without asking Redis, and all it keeps (beyond what it already
    /// holds) once Redis has been unreachable for a whole <see cref="LeaseTime"/>. 0 puts every port
    /// through Redis (an instance cut off from Redis opens nothing new once its lease ends); 1 splits
    /// the NAT statically and leaves Redis nothing to share.
    /// </summary>
    /// <value>Default: 0.25. From 0 to 1.</value>
    public double StaticShareFraction { get; set; } = RedisFleetDefaults.StaticShareFraction;

    /// <summary>
    /// This instance's name in the fleet's Redis records. It must be unique in the fleet and new at
    /// every process start: a restarted process that took its crashed predecessor's id would hand
    /// back ports the NAT still holds for the predecessor's connections.
    /// </summary>
    /// <value>Default: null, meaning <c>machine name:process id:random suffix</c>. Up to 200 characters.</value>
    public string? InstanceId { get; set; }

    /// <summary>
    /// After Redis lost the fleet's keys (restarted empty, flushed, a failover to a replica that had
    /// not received them), how long it grants nothing new beyond what instances re-assert: long
    /// enough for every live instance to re-assert its grant (it does at its next renewal, within a
    /// third of <see cref="LeaseTime"/>) and for a crashed instance's lost grant to have run out.
    /// A fleet's very first start looks the same to Redis, so it waits this long too, on static shares.
    /// </summary>
    /// <value>Default: null, meaning <see cref="LeaseTime"/> + <see cref="NatOptions.HoldAfterClose"/>. Zero (a Redis that never loses keys) up to 1 day.</value>
    public TimeSpan? RecoveryWindow { get; set; }

    /// <summary>
    /// While callers wait and Redis had no port free, how often the instance asks again (ports freed
    /// by other instances are not announced).
    /// </summary>
    /// <value>Default: 250 milliseconds. From 10 milliseconds to 1 minute.</value>
    public TimeSpan WaitRetryInterval { get; set; } = RedisFleetDefaults.WaitRetryInterval;

    /// <summary>
    /// How long one Redis request may take before it counts as failed (Redis unreachable). Requests
    /// never run on a caller's thread: this bounds how soon the fleet notices an outage.
    /// </summary>
    /// <value>Default: 2 seconds. From 10 milliseconds to 1 minute.</value>
    public TimeSpan RequestTimeout { get; set; } = RedisFleetDefaults.RequestTimeout;

    /// <summary>Every problem with these options, each message starting with the setting's name; empty when valid.</summary>
    internal IReadOnlyList<string> Validate()
    {
        var failures = new List<string>();
        KeyPart(nameof(FleetName), FleetName, allowEmpty: false, failures);
        KeyPart(nameof(KeyPrefix), KeyPrefix, allowEmpty: true, failures);
        Between(nameof(LeaseTime), LeaseTime, RedisFleetDefaults.MinLeaseTime, TimeSpan.FromDays(1), failures);
        if (ChunkSize is < 1 or > RedisFleetDefaults.MaxChunkSize)
        {
            failures.Add(Invariant($"ChunkSize: {ChunkSize} must lie between 1 and {RedisFleetDefaults.MaxChunkSize:N0} ports."));
        }

        if (ExpectedInstances is < 1 or > RedisFleetDefaults.MaxExpectedInstances)
        {
            failures.Add(Invariant($"ExpectedInstances: {ExpectedInstances} must lie between 1 and {RedisFleetDefaults.MaxExpectedInstances:N0}; set it to the most instances that run behind the NAT at once (a rolling deploy's surge included)."));
        }

        if (!(StaticShareFraction >= 0 && StaticShareFraction <= 1))
        {
            failures.Add(Invariant($"StaticShareFraction: {StaticShareFraction} must lie between 0 and 1 (0.25 = a quarter of an even split)."));
        }

        if (InstanceId is not null && (string.IsNullOrWhiteSpace(InstanceId) || InstanceId.Length > 200))
        {
            failures.Add(Invariant($"InstanceId: \"{InstanceId}\" must be 1 to 200 characters, not blank; or null for a generated one."));
        }

        if (RecoveryWindow is { } window)
        {
            Between(nameof(RecoveryWindow), window, TimeSpan.Zero, TimeSpan.FromDays(1), failures);
        }

        Between(nameof(WaitRetryInterval), WaitRetryInterval, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1), failures);
        Between(nameof(RequestTimeout), RequestTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromMinutes(1), failures);
        return failures;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every problem when these options are not valid.</summary>
    internal void ThrowIfInvalid()
    {
        var failures = Validate();
        if (failures.Count > 0)
        {
            throw new ArgumentException("RedisFleetOptions are not valid: " + string.Join(" ", failures), "options");
        }
    }

    /// <summary>A copy the caller can no longer change.</summary>
    internal RedisFleetOptions Clone() => (RedisFleetOptions)MemberwiseClone();

    private static void KeyPart(string name, string? value, bool allowEmpty, List<string> failures)
    {
        if (value is null || (!allowEmpty && string.IsNullOrWhiteSpace(value)))
        {
            failures.Add($"{name}: must be set{(allowEmpty ? " (empty is allowed, null is not)" : "; give the fleet that shares the NAT a name, the same on every instance")}.");
        }
        else if (value.Length > 100 || value.Contains('{', StringComparison.Ordinal) || value.Contains('}', StringComparison.Ordinal))
        {
            failures.Add($"{name}: \"{value}\" must be at most 100 characters without '{{' or '}}' (Redis Cluster hash-tag braces).");
        }
    }

    private static void Between(string name, TimeSpan value, TimeSpan min, TimeSpan max, List<string> failures)
    {
        if (value < min || value > max)
        {
            failures.Add(Invariant($"{name}: {value} must lie between {min} and {max}."));
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
