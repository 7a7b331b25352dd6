using System.Net;

namespace TuplePool.Tests.Support;

/// <summary>Extra loopback source addresses: Linux routes all of 127.0.0.0/8 to lo, so they need no setup.</summary>
public static class TestSources
{
    public static readonly IPAddress S2 = IPAddress.Parse("127.0.0.2");
    public static readonly IPAddress S3 = IPAddress.Parse("127.0.0.3");
    public static readonly IPAddress S4 = IPAddress.Parse("127.0.0.4");
    public static readonly IPAddress S5 = IPAddress.Parse("127.0.0.5");

    public static IList<IPAddress> Take(int count) => new[] { S2, S3, S4, S5 }.Take(count).ToList();
}
