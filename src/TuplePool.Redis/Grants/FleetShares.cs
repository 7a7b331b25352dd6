namespace TuplePool.Redis.Grants;

/// <summary>
/// How one destination's NAT capacity is split, the same on every instance of a fleet:
/// a static share per instance (spent without Redis, reserved for every expected instance whether
/// it runs or not) and the coordinated rest that Redis grants in chunks.
/// </summary>
/// <param name="Capacity">The NAT's ports to one destination (<see cref="NatOptions.PortsPerDestination"/>).</param>
/// <param name="StaticShare">Ports each instance may hold without asking Redis.</param>
/// <param name="Reserved">The static shares of all expected instances: <c>ExpectedInstances × StaticShare</c>.</param>
/// <param name="Coordinated">What Redis grants: <c>Capacity − Reserved</c>.</param>
/// <param name="Chunk">Ports asked for at once.</param>
/// <param name="LowWater">Ask for the next chunk when fewer than this many ports of the grant are left.</param>
internal readonly record struct FleetShares(int Capacity, int StaticShare, int Reserved, int Coordinated, int Chunk, int LowWater)
{
    /// <summary>The split of <paramref name="capacity"/> under <paramref name="options"/>.</summary>
    public static FleetShares Of(int capacity, RedisFleetOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);

        // The epsilon keeps 0.3 × 10 ÷ 3 (0.99999…) from flooring to 0.
        var staticShare = (int)Math.Floor((capacity * options.StaticShareFraction / options.ExpectedInstances) + 1e-9);
        var reserved = (int)Math.Min(capacity, (long)staticShare * options.ExpectedInstances);
        staticShare = reserved / options.ExpectedInstances;
        var coordinated = capacity - reserved;
        var chunk = Math.Max(1, Math.Min(options.ChunkSize, coordinated));
        return new FleetShares(capacity, staticShare, reserved, coordinated, chunk, Math.Max(1, chunk / 4));
    }
}
