using TuplePool.Redis;
using TuplePool.Redis.Grants;

namespace TuplePool.Tests.Fleet;

public sealed class FleetSharesTests
{
    [Theory]
    [InlineData(55000, 50, 0.25, 64, 275, 13750, 41250, 64)] // AWS NAT Gateway, 50 instances
    [InlineData(60, 3, 0.25, 8, 5, 15, 45, 8)]
    [InlineData(10, 3, 0.3, 8, 1, 3, 7, 7)]                   // 0.3 × 10 ÷ 3 is 0.999… in floating point
    [InlineData(100, 3, 1.0, 8, 33, 99, 1, 1)]                // a static split leaves only the remainder to Redis
    [InlineData(100, 4, 0, 64, 0, 0, 100, 64)]                // everything through Redis
    [InlineData(5, 10, 0.5, 8, 0, 0, 5, 5)]                   // more instances than ports
    public void Of_SplitsTheCapacity(int capacity, int instances, double fraction, int chunk, int staticShare, int reserved, int coordinated, int effectiveChunk)
    {
        var shares = FleetShares.Of(capacity, new RedisFleetOptions { FleetName = "f", ExpectedInstances = instances, StaticShareFraction = fraction, ChunkSize = chunk });

        Assert.Equal((capacity, staticShare, reserved, coordinated, effectiveChunk), (shares.Capacity, shares.StaticShare, shares.Reserved, shares.Coordinated, shares.Chunk));
        Assert.Equal(capacity, shares.Reserved + shares.Coordinated);
        Assert.Equal(Math.Max(1, effectiveChunk / 4), shares.LowWater);
    }
}
