using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Options;

/// <summary>
/// The addresses of a source prefix (<see cref="TuplePoolOptions.SourcePrefixes"/>) the pool may
/// bind, counted and numbered without listing them: index 0 is the address after the network's
/// own. The network's own address is never used (IPv6: the Subnet-Router anycast address,
/// RFC 4291 section 2.6.1), nor an IPv4 network's last, its broadcast address: an AnyIP route
/// would serve both, but other tools treat them as special, so a connection from them surprises.
/// </summary>
internal static class PrefixAddresses
{
    /// <summary>The fewest usable addresses a prefix must hold: below that it is a short list, for <see cref="TuplePoolOptions.SourceAddresses"/>.</summary>
    public const int MinUsable = 2;

    /// <summary>The addresses of <paramref name="network"/> the pool may use (0 when the network is too small to have any).</summary>
    public static UInt128 UsableCount(IPNetwork network)
    {
        var bits = Bits(network.BaseAddress);
        var hostBits = bits - network.PrefixLength;
        var size = hostBits >= 128 ? UInt128.MaxValue : UInt128.One << hostBits;
        var unused = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 2u : 1u;
        return size > unused ? size - unused : UInt128.Zero;
    }

    /// <summary>The usable address number <paramref name="index"/> (from 0, below <see cref="UsableCount"/>) of <paramref name="network"/>.</summary>
    public static IPAddress AddressAt(IPNetwork network, UInt128 index)
    {
        var offset = index + 1; // past the network's own address
        Span<byte> bytes = stackalloc byte[16];
        network.BaseAddress.TryWriteBytes(bytes, out var written);
        if (written == 4)
        {
            var value = BinaryPrimitives.ReadUInt32BigEndian(bytes) + (uint)offset;
            BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
            return new IPAddress(bytes[..4]);
        }

        var wide = BinaryPrimitives.ReadUInt128BigEndian(bytes) + offset;
        BinaryPrimitives.WriteUInt128BigEndian(bytes, wide);
        return new IPAddress(bytes);
    }

    /// <summary>A usable address of <paramref name="network"/> picked at random (the start-up probe binds one).</summary>
    public static IPAddress RandomAddress(IPNetwork network)
    {
        var count = UsableCount(network);
        Span<byte> random = stackalloc byte[16];
        Random.Shared.NextBytes(random);
        return AddressAt(network, BinaryPrimitives.ReadUInt128LittleEndian(random) % count);
    }

    /// <summary>True when <paramref name="address"/> is one of the usable addresses of <paramref name="network"/>.</summary>
    public static bool IsUsable(IPNetwork network, IPAddress address)
    {
        if (!network.Contains(address))
        {
            return false;
        }

        var count = UsableCount(network);
        return count > 0 && IndexOf(network, address) is { } index && index < count;
    }

    /// <summary>The index of <paramref name="address"/> in <paramref name="network"/> (see <see cref="AddressAt"/>), or null for the network's own address or one outside it.</summary>
    public static UInt128? IndexOf(IPNetwork network, IPAddress address)
    {
        if (!network.Contains(address))
        {
            return null;
        }

        var offset = Value(address) - Value(network.BaseAddress);
        return offset == 0 ? null : offset - 1;
    }

    private static int Bits(IPAddress address) => address.AddressFamily == AddressFamily.InterNetworkV6 ? 128 : 32;

    private static UInt128 Value(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return written == 4 ? BinaryPrimitives.ReadUInt32BigEndian(bytes) : BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }
}
