using System.Globalization;
using System.Net;
using System.Net.Sockets;
using StackExchange.Redis;

namespace TuplePool.Redis.Store;

/// <summary>The two keys a grant request touches: the destination's hash and its bucket's epoch.</summary>
internal readonly record struct GrantKeys(int Bucket, RedisKey Destination, RedisKey Epoch);

/// <summary>
/// The fleet's key schema. One hash per destination,
/// <c>{prefix}{{fleet}:{bucket}}:d:{ip}:{port}</c>, with a field per instance that holds or wants
/// ports there; one epoch hash per bucket, <c>{prefix}{{fleet}:{bucket}}:epoch</c>, which tells a
/// Redis that lost its keys from one that never had them. The grant script reads both, so they
/// share a Redis Cluster hash tag: the fleet name and a bucket of 256 that the destination
/// hashes to. Destinations stay spread over 256 slots, so over every node of a cluster.
/// </summary>
/// <remarks>
/// The bucket count and the hash (FNV-1a over the address bytes and the port) are part of the
/// schema: instances that disagreed on them would count one destination under two keys.
/// </remarks>
internal sealed class FleetKeys(string prefix, string fleetName)
{
    public const int Buckets = 256;

    public GrantKeys For(IPEndPoint destination)
    {
        var bucket = BucketOf(destination);
        var tag = Tag(bucket);
        return new GrantKeys(bucket, (RedisKey)(tag + ":d:" + Format(destination)), (RedisKey)(tag + ":epoch"));
    }

    /// <summary>Every epoch key of the fleet (tests and operators look at them).</summary>
    public RedisKey EpochKey(int bucket) => (RedisKey)(Tag(bucket) + ":epoch");

    public static int BucketOf(IPEndPoint destination)
    {
        const uint offsetBasis = 2166136261;
        const uint prime = 16777619;
        Span<byte> bytes = stackalloc byte[16];
        destination.Address.TryWriteBytes(bytes, out var written);
        var hash = offsetBasis;
        foreach (var b in bytes[..written])
        {
            hash = (hash ^ b) * prime;
        }

        hash = (hash ^ (byte)(destination.Port >> 8)) * prime;
        hash = (hash ^ (byte)destination.Port) * prime;
        return (int)(hash % Buckets);
    }

    private string Tag(int bucket) => prefix + "{" + fleetName + ":" + bucket.ToString("x2", CultureInfo.InvariantCulture) + "}";

    // "203.0.113.5:443", "[2001:db8::5]:443"; without an IPv6 scope, which means nothing to the NAT.
    private static string Format(IPEndPoint destination)
        => destination.Address.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + new IPAddress(destination.Address.GetAddressBytes()) + "]:" + destination.Port.ToString(CultureInfo.InvariantCulture)
            : destination.Address + ":" + destination.Port.ToString(CultureInfo.InvariantCulture);
}
