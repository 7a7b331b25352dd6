using System.Net;
using TuplePool.Redis.Store;

namespace TuplePool.Tests.Fleet;

public sealed class FleetKeysTests
{
    private readonly FleetKeys _keys = new("tuplepool:", "crawlers");

    [Fact]
    public void For_GivesTheDestinationAndItsEpochOneHashTag()
    {
        var keys = _keys.For(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 443));

        Assert.Equal($"tuplepool:{{crawlers:{keys.Bucket:x2}}}:d:203.0.113.5:443", (string)keys.Destination!);
        Assert.Equal($"tuplepool:{{crawlers:{keys.Bucket:x2}}}:epoch", (string)keys.Epoch!);
    }

    [Fact]
    public void For_IPv6_InBracketsWithoutTheScope()
    {
        var keys = _keys.For(new IPEndPoint(IPAddress.Parse("fe80::1%2"), 80));

        Assert.EndsWith(":d:[fe80::1]:80", (string)keys.Destination!, StringComparison.Ordinal);
    }

    [Fact]
    public void BucketOf_IsFixedByTheSchema_AndSpreadsDestinations()
    {
        // FNV-1a of the address bytes and the port, modulo 256: the same on every instance and
        // every run (a fleet whose instances disagreed would count a destination twice).
        Assert.Equal(FleetKeys.BucketOf(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 443)), FleetKeys.BucketOf(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 443)));
        Assert.Equal(0xb0, FleetKeys.BucketOf(new IPEndPoint(IPAddress.Parse("203.0.113.5"), 443)));

        var buckets = Enumerable.Range(0, 4096).Select(i => FleetKeys.BucketOf(new IPEndPoint(new IPAddress([198, 18, (byte)(i >> 8), (byte)i]), 443))).ToList();
        Assert.Equal(256, buckets.Distinct().Count());
        Assert.InRange(buckets.GroupBy(b => b).Max(g => g.Count()), 16, 40);
    }
}
