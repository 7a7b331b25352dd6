using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;

namespace TuplePool.Options;

/// <summary>
/// Finds out whether this machine serves a source prefix (an AnyIP route), without sending
/// anything. IPv4: an address of it, picked at random, binds (a bind accepts any address of a
/// local route). IPv6: such an address binds (it is assigned), or a local route covers the whole
/// prefix (<see cref="LocalRoutes"/>): an IPv6 bind accepts only assigned addresses, so the pool
/// binds prefix addresses with <c>IP_FREEBIND</c>, and with it a bind succeeds for any address,
/// served or not; a connection from an address the machine does not serve would time out, its
/// answers routed elsewhere.
/// </summary>
internal static class SourcePrefixProbe
{
    /// <summary>Null when <paramref name="network"/> is served here, else why not (for a validation message, after the network).</summary>
    public static string? Check(IPNetwork network) => Check(network, SourceAddressProbe.TryBind, ProcFileSystem.Default);

    /// <summary>As <see cref="Check(IPNetwork)"/>, with the address probe and <c>/proc</c> as seams.</summary>
    public static string? Check(IPNetwork network, Func<IPAddress, string?> bind, IProcFileSystem proc)
    {
        var address = PrefixAddresses.RandomAddress(network);
        if (bind(address) is not { } problem)
        {
            return null;
        }

        problem = problem.Replace(SourceAddressProbe.NotAssignedAdvice, string.Empty, StringComparison.Ordinal);
        if (network.BaseAddress.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return $"is not served by this machine: {address}, an address of it picked at random, {problem}";
        }

        return LocalRoutes.CoversIPv6(network, proc) switch
        {
            true => null,
            null => $"cannot be checked: {LocalRoutes.Ipv6RouteFile} cannot be read, and {address}, an address of it picked at random, {problem}",
            false => $"is not served by this machine: no local route in {LocalRoutes.Ipv6RouteFile} covers it, and {address}, an address of it picked at random, {problem}",
        };
    }
}
