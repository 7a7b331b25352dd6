using System.Net;
using System.Net.Sockets;

namespace TuplePool.Internal;

/// <summary>
/// Addresses the pool keeps, compares and uses as keys, made from a caller's: a new
/// <see cref="IPAddress"/> of the runtime's own type, built from the bytes and scope only.
/// <see cref="IPAddress"/> is not sealed and not immutable (<see cref="IPAddress.ScopeId"/> has a
/// setter), so a caller's instance can change later or bring an <c>Equals</c> of its own; the
/// members read here are ones a subclass cannot override.
/// </summary>
internal static class AddressCopies
{
    /// <summary>A copy nobody else holds, of the runtime's own type.</summary>
    public static IPAddress Copy(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return address.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPAddress(bytes[..written], address.ScopeId)
            : new IPAddress(bytes[..written]);
    }

    /// <summary>
    /// A copy as the kernel sees the address: an IPv4-mapped IPv6 address (<c>::ffff:a.b.c.d</c>)
    /// is the IPv4 address a.b.c.d, which is what a socket bound or connected to it uses.
    /// </summary>
    public static IPAddress AsKernelSeesIt(IPAddress address)
    {
        var copy = Copy(address);
        return copy.IsIPv4MappedToIPv6 ? copy.MapToIPv4() : copy;
    }
}
