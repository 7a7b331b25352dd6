using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using TuplePool.Serialization;

namespace TuplePool;

/// <summary>How one (source, destination IP, destination port) tuple's port budget is used.</summary>
public sealed class TupleUsage
{
    /// <summary>Creates a usage record with no ports held by others.</summary>
    public TupleUsage(IPAddress source, IPEndPoint destination, int capacity, int active, int idle, int timeWait, int remaining)
        : this(source, destination, capacity, active, idle, timeWait, remaining, external: 0)
    {
    }

    /// <summary>Creates a usage record with nothing closing.</summary>
    public TupleUsage(IPAddress source, IPEndPoint destination, int capacity, int active, int idle, int timeWait, int remaining, int external)
        : this(source, destination, capacity, active, idle, timeWait, remaining, external, closing: 0)
    {
    }

    /// <summary>Creates a usage record.</summary>
    public TupleUsage(IPAddress source, IPEndPoint destination, int capacity, int active, int idle, int timeWait, int remaining, int external, int closing)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        Source = source;
        Destination = destination;
        Capacity = capacity;
        Active = active;
        Idle = idle;
        TimeWait = timeWait;
        Remaining = remaining;
        External = external;
        Closing = closing;
    }

    /// <summary>The local address (<see cref="IPAddress.Any"/> or <see cref="IPAddress.IPv6Any"/> when the kernel chooses).</summary>
    [JsonConverter(typeof(IPAddressJsonConverter))]
    public IPAddress Source { get; }

    /// <summary>The remote address and port.</summary>
    [JsonConverter(typeof(IPEndPointJsonConverter))]
    public IPEndPoint Destination { get; }

    /// <summary>Ports this tuple may use: range size − reserved ports − <see cref="TuplePoolOptions.ReservedPortsPerTuple"/>.</summary>
    public int Capacity { get; }

    /// <summary>Connections leased out (or being opened) right now.</summary>
    public int Active { get; }

    /// <summary>Open connections sitting in the idle store.</summary>
    public int Idle { get; }

    /// <summary>
    /// Ports held in TIME_WAIT after this pool's own graceful first closes: as the kernel reports
    /// each closed 4-tuple (read by netlink after the close), or for the fixed charge where the
    /// kernel cannot be asked.
    /// </summary>
    public int TimeWait { get; }

    /// <summary>
    /// Ports of this pool's closed sockets the kernel still holds in FIN-WAIT-1/2, CLOSING or
    /// LAST-ACK (a peer slow to answer the close, one that never reads, or one that died), charged
    /// until the kernel lets them go.
    /// </summary>
    public int Closing { get; }

    /// <summary>
    /// Ports free for new connections: Capacity − Active − Idle − TimeWait − Closing − External; never negative.
    /// </summary>
    public int Remaining { get; }

    /// <summary>
    /// Ports the kernel holds on this tuple for sockets the pool does not own — other processes,
    /// TIME_WAIT outliving its charge or left by an earlier run. When a connect is refused with
    /// <c>EADDRNOTAVAIL</c> the kernel has no port left in the range the pool's sockets draw from,
    /// so every port of the capacity the pool does not hold is counted here for about a second
    /// (the kernel's socket table cannot see every holder, and a socket outside that range holds
    /// none of them); 0 otherwise.
    /// </summary>
    public int External { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Source} -> {Destination}: {Active} active, {Idle} idle, {TimeWait} TIME_WAIT, {(Closing > 0 ? $"{Closing} closing, " : string.Empty)}{External} held by others, {Remaining} of {Capacity} free");
}
