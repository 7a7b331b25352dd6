using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using TuplePool.Internal;

namespace TuplePool.Pooling;

/// <summary>
/// What a destination is to the pool: the kernel's view of the caller's <see cref="EndPoint"/>
/// (an IPv4-mapped IPv6 address is the IPv4 address), held in an object of the runtime's own
/// <see cref="IPEndPoint"/>, <see cref="IPAddress"/> or <see cref="DnsEndPoint"/> type that nobody
/// else holds (an <see cref="IPEndPoint"/>, and even an <see cref="IPAddress"/>, can be changed
/// after the fact), and checked once, before anything is kept for it.
/// </summary>
/// <remarks>
/// None of the three types is sealed. A caller's subclass can bring an <c>Equals</c> and a
/// <c>GetHashCode</c> of its own — reference equality, a hash of its identity, or "equal to every
/// address" — and whatever compares the caller's object calls them: the registry's dictionary,
/// which then misses a key it holds and fails to add the copy it makes (a lookup that retried
/// forever), and the checks, which then ask the caller's address whether it is 0.0.0.0. So every
/// destination is turned into the runtime's own types first (<see cref="Normalize"/>), reading
/// only members a subclass cannot override (<see cref="IPEndPoint.Address"/>, <see cref="IPEndPoint.Port"/>,
/// <see cref="IPAddress.TryWriteBytes"/>, <see cref="DnsEndPoint.Host"/>; <see cref="DnsEndPoint.AddressFamily"/>
/// is the exception, taken as the subclass says), and the fast path compares by the key's members
/// (<see cref="IsKeyOf"/>) the same way: a subclass is served as the address or name it names, or refused.
/// </remarks>
internal static class DestinationKeys
{
    private static readonly TimeSpan BroadcastRefresh = TimeSpan.FromSeconds(10);
    private static readonly object BroadcastGate = new();
    private static HashSet<IPAddress>? _broadcasts;
    private static long _broadcastsReadAt;

    /// <summary>
    /// The pool's kind of key for <paramref name="destination"/>: the caller's object when it
    /// already is a plain <see cref="IPEndPoint"/> (with a plain, unmapped address) or a plain
    /// <see cref="DnsEndPoint"/>, so the common lookup allocates nothing; else a new plain one
    /// naming the same address or name. Not yet a copy: <see cref="Copy(EndPoint)"/> makes the one that is kept.
    /// </summary>
    /// <exception cref="ArgumentException">Neither an IPEndPoint nor a DnsEndPoint, or a DnsEndPoint of a family no name resolves to.</exception>
    public static EndPoint Normalize(EndPoint destination)
    {
        switch (destination)
        {
            case IPEndPoint ip:
                var address = ip.Address;
                return IsRuntimeOwn(ip) && IsRuntimeOwn(address) && !address.IsIPv4MappedToIPv6
                    ? ip
                    : new IPEndPoint(Plain(address), ip.Port);
            case DnsEndPoint name:
                if (IsRuntimeOwn(name))
                {
                    return name;
                }

                // AddressFamily is the one member a subclass can override: take what it says, if a name can have it.
                var family = name.AddressFamily;
                if (family is not (AddressFamily.Unspecified or AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
                {
                    throw new ArgumentException($"Destination {name.Host}:{name.Port} asks for address family {family}; a DnsEndPoint resolves to InterNetwork, InterNetworkV6 or Unspecified (either).", nameof(destination));
                }

                return new DnsEndPoint(name.Host, name.Port, family);
            case null:
                throw new ArgumentNullException(nameof(destination));
            default:
                throw NotSupported(destination);
        }
    }

    /// <summary>
    /// An object of a type System.Net declares: the plain types, and the read-only address behind
    /// <see cref="IPAddress.Loopback"/> and its kin; never a caller's subclass.
    /// </summary>
    private static bool IsRuntimeOwn(object value) => value.GetType().Assembly == typeof(IPAddress).Assembly;

    /// <summary>
    /// True when <paramref name="destination"/> names the destination whose key is
    /// <paramref name="key"/> (the registry's fast path): compared as <see cref="Normalize"/>
    /// reads it, by the key's own <c>Equals</c> on the address (which compares bytes and scope),
    /// never by the caller's. A mapped address never matches (its key is the IPv4 form, found by
    /// the slow path).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsKeyOf(EndPoint key, EndPoint destination) => key is IPEndPoint ip
        ? destination is IPEndPoint other && other.Port == ip.Port && ip.Address.Equals(other.Address)
        : destination is DnsEndPoint name && key is DnsEndPoint keyName
            && name.Port == keyName.Port
            && name.AddressFamily == keyName.AddressFamily // as Normalize reads it, overridden or not
            && string.Equals(name.Host, keyName.Host, StringComparison.Ordinal);

    /// <summary>A copy the caller cannot change.</summary>
    public static EndPoint Copy(EndPoint destination) => destination switch
    {
        IPEndPoint ip => Copy(ip),
        DnsEndPoint name => new DnsEndPoint(name.Host, name.Port, name.AddressFamily),
        _ => throw NotSupported(destination),
    };

    public static IPEndPoint Copy(IPEndPoint endPoint) => new(Copy(endPoint.Address), endPoint.Port);

    public static IPAddress Copy(IPAddress address) => AddressCopies.Copy(address);

    /// <summary>A plain copy of <paramref name="address"/> as the kernel sees it: the IPv4 address for an IPv4-mapped one.</summary>
    public static IPAddress Plain(IPAddress address) => AddressCopies.AsKernelSeesIt(address);

    /// <summary>Throws <see cref="ArgumentException"/> for a destination no TCP connection can be made to.</summary>
    public static void Validate(EndPoint destination, TimeProvider timeProvider)
    {
        switch (destination)
        {
            case IPEndPoint ip:
                if (WhyNotConnectable(ip, timeProvider) is { } why)
                {
                    throw new ArgumentException($"Destination {ip} {why}.", nameof(destination));
                }

                break;
            case DnsEndPoint name:
                if (name.Port == 0)
                {
                    throw new ArgumentException($"Destination {name.Host}:0 has port 0; give the port to connect to.", nameof(destination));
                }

                break;
            default:
                throw NotSupported(destination);
        }
    }

    /// <summary>
    /// Why no TCP connection can be made to <paramref name="endPoint"/> (a phrase that follows the
    /// endpoint, as in "127.0.0.1:0 has port 0"), or null when one can. The rules for a given
    /// destination and for every address a name resolves to (<see cref="AddressResolver"/>).
    /// </summary>
    public static string? WhyNotConnectable(IPEndPoint endPoint, TimeProvider timeProvider)
    {
        var address = endPoint.Address;
        if (endPoint.Port == 0)
        {
            return "has port 0; give the port to connect to";
        }

        if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
        {
            // Linux connects the unspecified address to this machine itself, while the lease and the
            // ledger would say 0.0.0.0: a tuple that does not exist.
            return "is not a unicast address to connect to (the unspecified address; Linux would connect it to this machine)";
        }

        if (address.Equals(IPAddress.Broadcast))
        {
            return "is not a unicast address to connect to (the limited broadcast address)";
        }

        if (IsMulticast(address))
        {
            return "is a multicast address; TCP connects only to a unicast address";
        }

        if (IsLocalSubnetBroadcast(address, timeProvider))
        {
            return "is the broadcast address of a subnet of this machine; TCP connects only to a unicast address";
        }

        return null;
    }

    private static ArgumentException NotSupported(EndPoint destination)
        => new($"TuplePool connects to an IPEndPoint or a DnsEndPoint, not {destination.GetType().Name}.", nameof(destination));

    private static bool IsMulticast(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return address.IsIPv6Multicast;
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return bytes[0] >= 224 && bytes[0] <= 239; // 224.0.0.0/4
    }

    /// <summary>The directed broadcast of a local IPv4 subnet (e.g. 127.255.255.255 on lo); read from the interfaces every few seconds.</summary>
    private static bool IsLocalSubnetBroadcast(IPAddress address, TimeProvider timeProvider)
    {
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        HashSet<IPAddress> broadcasts;
        lock (BroadcastGate)
        {
            var now = timeProvider.GetTimestamp();
            if (_broadcasts is null || timeProvider.GetElapsedTime(_broadcastsReadAt, now) >= BroadcastRefresh || now < _broadcastsReadAt)
            {
                _broadcasts = ReadBroadcasts();
                _broadcastsReadAt = now;
            }

            broadcasts = _broadcasts;
        }

        return broadcasts.Contains(address);
    }

    private static HashSet<IPAddress> ReadBroadcasts()
    {
        var broadcasts = new HashSet<IPAddress>();
        try
        {
            foreach (var network in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in network.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.AddressFamily != AddressFamily.InterNetwork || unicast.PrefixLength >= 31)
                    {
                        continue; // /31 and /32 have no broadcast address (RFC 3021)
                    }

                    // Every host bit set: the address with the bits past the prefix turned on.
                    var bytes = unicast.Address.GetAddressBytes();
                    for (var i = 0; i < 4; i++)
                    {
                        var prefixBits = Math.Clamp(unicast.PrefixLength - (8 * i), 0, 8);
                        bytes[i] |= (byte)(0xFF >> prefixBits);
                    }

                    broadcasts.Add(new IPAddress(bytes));
                }
            }
        }
        catch (NetworkInformationException)
        {
            // Interfaces unreadable: the kernel will refuse such a connect itself.
        }

        return broadcasts;
    }
}
