using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;

namespace TuplePool.Options;

/// <summary>
/// Finds out whether a source address is assigned to this machine by binding a TCP socket to
/// it with port 0 and closing it again: nothing is sent. With <c>IP_BIND_ADDRESS_NO_PORT</c>
/// (Linux) the bind takes no port at all; without it the kernel lends one until the close. That
/// matters on a busy machine: a port taken by an explicit bind, on any address, is skipped by
/// every <c>connect()</c> that picks its own port, for as long as it is held.
/// </summary>
internal static class SourceAddressProbe
{
    /// <summary>The advice after "is not assigned to this machine": right for a listed address, not for a prefix's (which wants a route).</summary>
    public const string NotAssignedAdvice = "; use an address that `ip address` lists, or leave SourceAddresses empty to let the kernel choose";

    /// <summary>Returns null when the address can be bound, else why not (for a validation message).</summary>
    public static string? TryBind(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            SocketOptions.TrySetBindAddressNoPort(socket);
            socket.Bind(new IPEndPoint(address, 0));
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            // bind(addr, 0) needs a port free on this address for every destination; on a busy
            // machine there may be none left. The kernel knows the address, so it is assigned.
            return null;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressNotAvailable)
        {
            return "is not assigned to this machine (binding a socket to it failed with EADDRNOTAVAIL)" + NotAssignedAdvice;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressFamilyNotSupported)
        {
            return $"cannot be used: this machine has no {(address.AddressFamily == AddressFamily.InterNetworkV6 ? "IPv6" : address.AddressFamily.ToString())} support";
        }
        catch (SocketException e)
        {
            return $"cannot be bound ({e.SocketErrorCode}: {e.Message})";
        }
    }
}
