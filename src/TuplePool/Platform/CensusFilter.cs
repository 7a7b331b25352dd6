using System.Net;

namespace TuplePool.Platform;

/// <summary>
/// Which sockets a census query wants: those on one (source, destination IP, destination port)
/// tuple, in some states, optionally with a local port in a range. Addresses are normalized
/// (IPv4-mapped counts as IPv4, scope ids are ignored); a source of Any or IPv6Any, or none,
/// matches every source.
/// </summary>
internal readonly struct CensusFilter
{
    /// <exception cref="ArgumentException">The destination is neither IPv4 nor IPv6.</exception>
    public CensusFilter(IPAddress? source, IPEndPoint destination, TcpStateMask states, PortRange? localPorts)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (!AddressBits.TryFrom(destination.Address, out var remote))
        {
            throw new ArgumentException($"The census counts TCP over IPv4 and IPv6; {destination} is neither.", nameof(destination));
        }

        Destination = remote;
        DestinationPort = destination.Port;
        States = states;
        LocalPorts = localPorts;
        if (source is not null && AddressBits.TryFrom(source, out var local) && !AddressBits.IsWildcard(local))
        {
            Source = local;
            HasSource = true;
        }

        // A source of the other family cannot hold a port of this tuple.
        MatchesNothing = (HasSource && AddressBits.IsIPv4(Source) != IsIPv4) || states == TcpStateMask.None;
    }

    /// <summary>The source's bits; meaningful only when <see cref="HasSource"/>.</summary>
    public UInt128 Source { get; }

    /// <summary>False: every source matches.</summary>
    public bool HasSource { get; }

    public UInt128 Destination { get; }

    public int DestinationPort { get; }

    public TcpStateMask States { get; }

    public PortRange? LocalPorts { get; }

    /// <summary>True for an IPv4 (or IPv4-mapped) destination.</summary>
    public bool IsIPv4 => AddressBits.IsIPv4(Destination);

    /// <summary>True when no socket can match (a source of the other family, no states), so no table need be read.</summary>
    public bool MatchesNothing { get; }

    /// <summary>The same test the kernel runs on the netlink filter, for a backend that reads every socket.</summary>
    public bool Matches(in SocketRecord record)
        => record.RemotePort == DestinationPort
            && record.RemoteAddress == Destination
            && States.Contains(record.State)
            && (!HasSource || record.LocalAddress == Source)
            && (LocalPorts is not { } ports || ports.Contains(record.LocalPort));
}
