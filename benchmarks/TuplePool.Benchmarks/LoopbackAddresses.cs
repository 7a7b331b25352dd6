using System.Net;

namespace TuplePool.Benchmarks;

/// <summary>
/// Many distinct addresses of 127/8, all local on <c>lo</c> without any setup: as sources they
/// bind, as destinations a listener on 0.0.0.0 accepts them (<see cref="BenchmarkServer.StartSocketsOnAnyAddress"/>).
/// A last octet of 0 or 255 is skipped, so no address looks like a network or broadcast address.
/// </summary>
internal static class LoopbackAddresses
{
    private const int PerBlock = 254; // .1 to .254 of each 127.b.c.0/24

    /// <summary>The <paramref name="index"/>-th address counting from 127.<paramref name="second"/>.<paramref name="third"/>.1.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The address would be past 127.255.255.254.</exception>
    public static IPAddress At(int second, int third, long index)
    {
        var hosts = ((long)second * 256 * PerBlock) + ((long)third * PerBlock) + index;
        var b = hosts / (256 * PerBlock);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(b, 255L, nameof(index));
        var c = hosts / PerBlock % 256;
        var d = (hosts % PerBlock) + 1;
        return new IPAddress([127, (byte)b, (byte)c, (byte)d]);
    }

    /// <summary>
    /// <paramref name="count"/> source addresses from 127.0.1.1 on (127.0.1.1 ... 127.0.1.254,
    /// 127.0.2.1, ...): apart from <see cref="BenchmarkServer.Sources"/>' 127.0.0.x and from the
    /// destinations of 127.1/16 and above.
    /// </summary>
    public static IPAddress[] Sources(int count) => Enumerable.Range(0, count).Select(i => At(0, 1, i)).ToArray();
}
