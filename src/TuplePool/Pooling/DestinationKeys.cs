using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace TuplePool.Pooling;

/// <summary>
/// What a destination is to the pool: the kernel's view of the caller's <see cref="EndPoint"/>
/// (an IPv4-mapped IPv6 address is the IPv4 address), copied into an object nobody else holds
/// (an <see cref="IPEndPoint"/>, and even an <see cref="IPAddress"/>, can be changed after the
/// fact), and checked once, before anything is kept for it.
/// </summary>
internal static class DestinationKeys
{
    private static readonly TimeSpan BroadcastRefresh = TimeSpan.FromSeconds(10);
    private static readonly object BroadcastGate = new();
    private static HashSet<IPAddress>? _broadcasts;
    private static long _broadcastsReadAt;

    /// <summary>The caller's object when it already is what the kernel sees, else the IPv4 form of a mapped address.</summary>
    public static EndPoint Normalize(EndPoint destination)
        => destination is IPEndPoint { Address.IsIPv4MappedToIPv6: true } mapped
            ? new IPEndPoint(mapped.Address.MapToIPv4(), mapped.Port)
            : destination;

    /// <summary>A copy the caller cannot change.</summary>
    public static EndPoint Copy(EndPoint destination) => destination switch
    {
        IPEndPoint ip => Copy(ip),
        DnsEndPoint name => new DnsEndPoint(name.Host, name.Port, name.AddressFamily),
        _ => throw new ArgumentException($"TuplePool connects to an IPEndPoint or a DnsEndPoint, not {destination.GetType().Name}.", nameof(destination)),
    };

    public static IPEndPoint Copy(IPEndPoint endPoint) => new(Copy(endPoint.Address), endPoint.Port);

    public static IPAddress Copy(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var written);
        return address.AddressFamily == AddressFamily.InterNetworkV6
            ? new IPAddress(bytes[..written], address.ScopeId)
            : new IPAddress(bytes[..written]);
    }

    /// <summary>Throws <see cref="ArgumentException"/> for a destination no TCP connection can be made to.</summary>
    public static void Validate(EndPoint destination, TimeProvider timeProvider)
    {
        switch (destination)
        {
            case IPEndPoint ip:
                if (ip.Port == 0)
                {
                    throw new ArgumentException($"Destination {ip} has port 0; give the port to connect to.", nameof(destination));
                }

                if (ip.Address.Equals(IPAddress.Any) || ip.Address.Equals(IPAddress.IPv6Any) || ip.Address.Equals(IPAddress.Broadcast))
                {
                    throw new ArgumentException($"Destination {ip} is not a unicast address to connect to.", nameof(destination));
                }

                if (IsMulticast(ip.Address))
                {
                    throw new ArgumentException($"Destination {ip} is a multicast address; TCP connects only to a unicast address.", nameof(destination));
                }

                if (IsLocalSubnetBroadcast(ip.Address, timeProvider))
                {
                    throw new ArgumentException($"Destination {ip} is the broadcast address of a subnet of this machine; TCP connects only to a unicast address.", nameof(destination));
                }

                break;
            case DnsEndPoint name:
                if (name.Port == 0)
                {
                    throw new ArgumentException($"Destination {name.Host}:0 has port 0; give the port to connect to.", nameof(destination));
                }

                break;
            default:
                throw new ArgumentException($"TuplePool connects to an IPEndPoint or a DnsEndPoint, not {destination.GetType().Name}.", nameof(destination));
        }
    }

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
