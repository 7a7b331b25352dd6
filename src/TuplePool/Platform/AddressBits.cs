using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>
/// An IP address as the 128 bits of its IPv6 form, IPv4 as IPv4-mapped (<c>::ffff:a.b.c.d</c>):
/// one value type both census parsers produce and compare without allocating an
/// <see cref="IPAddress"/> per socket. The scope id is not part of it (neither the kernel's
/// tuple search nor <c>/proc</c> knows one).
/// </summary>
internal static class AddressBits
{
    private static readonly UInt128 MappedPrefix = (UInt128)0xFFFF << 32;
    private static readonly UInt128 MappedMask = ~(UInt128)uint.MaxValue;

    /// <summary>The bits of an IPv4 address given in network byte order (as 4 bytes).</summary>
    public static UInt128 FromIPv4(ReadOnlySpan<byte> networkOrder) => MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(networkOrder);

    /// <summary>The bits of a 16-byte IPv6 address in network byte order.</summary>
    public static UInt128 FromIPv6(ReadOnlySpan<byte> networkOrder) => BinaryPrimitives.ReadUInt128BigEndian(networkOrder);

    /// <summary>The bits of <paramref name="address"/>; false for a family that is neither IPv4 nor IPv6.</summary>
    public static bool TryFrom(IPAddress address, out UInt128 bits)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        switch (address.AddressFamily)
        {
            case AddressFamily.InterNetwork when address.TryWriteBytes(bytes, out _):
                bits = FromIPv4(bytes);
                return true;
            case AddressFamily.InterNetworkV6 when address.TryWriteBytes(bytes, out _):
                bits = FromIPv6(bytes);
                return true;
            default:
                bits = default;
                return false;
        }
    }

    /// <summary>True for IPv4 (stored mapped).</summary>
    public static bool IsIPv4(UInt128 bits) => (bits & MappedMask) == MappedPrefix;

    /// <summary>The IPv4 address in network byte order; only meaningful when <see cref="IsIPv4"/>.</summary>
    public static uint IPv4NetworkOrder(UInt128 bits) => (uint)bits;

    /// <summary>True for <c>0.0.0.0</c> and <c>::</c>: "any source".</summary>
    public static bool IsWildcard(UInt128 bits) => bits == UInt128.Zero || bits == MappedPrefix;

    /// <summary>Writes the 16 bytes of the IPv6 form (IPv4 mapped) in network byte order.</summary>
    public static void WriteIPv6(UInt128 bits, Span<byte> destination) => BinaryPrimitives.WriteUInt128BigEndian(destination, bits);

    /// <summary>Writes the 4 bytes of an IPv4 address in network byte order.</summary>
    public static void WriteIPv4(UInt128 bits, Span<byte> destination) => BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)bits);

    /// <summary>A new <see cref="IPAddress"/>: IPv4 for a mapped value, IPv6 otherwise.</summary>
    public static IPAddress ToIPAddress(UInt128 bits)
    {
        Span<byte> bytes = stackalloc byte[16];
        WriteIPv6(bits, bytes);
        return IsIPv4(bits) ? new IPAddress(bytes[12..]) : new IPAddress(bytes);
    }
}
