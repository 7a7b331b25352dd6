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

    /// <summary>Creates a usage record of a source that is not quarantined, with no ports the kernel listed in TIME_WAIT among <paramref name="external"/>.</summary>
    public TupleUsage(IPAddress source, IPEndPoint destination, int capacity, int active, int idle, int timeWait, int remaining, int external, int closing)
        : this(source, destination, capacity, active, idle, timeWait, remaining, external, closing, externalTimeWait: 0, isQuarantined: false)
    {
    }

    /// <summary>Creates a usage record.</summary>
    /// <param name="source">The local address.</param>
    /// <param name="destination">The remote address and port.</param>
    /// <param name="capacity">Ports the tuple may use.</param>
    /// <param name="active">Connections leased out or being opened.</param>
    /// <param name="idle">Connections in the idle store.</param>
    /// <param name="timeWait">Ports in TIME_WAIT after the pool's own graceful closes.</param>
    /// <param name="remaining">Ports free for a new connection; 0 for a quarantined source.</param>
    /// <param name="external">Ports the kernel holds for sockets the pool does not own.</param>
    /// <param name="closing">Ports of the pool's closed sockets the kernel still holds in FIN-WAIT-1/2, CLOSING or LAST-ACK.</param>
    /// <param name="externalTimeWait">Of <paramref name="external"/>, those the kernel listed in TIME_WAIT; 0 to <paramref name="external"/>.</param>
    /// <param name="isQuarantined">The source is quarantined: binding to it failed, and it gives no port until <see cref="TuplePoolOptions.SourceQuarantine"/> has passed.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="externalTimeWait"/> is negative or more than <paramref name="external"/>.</exception>
    public TupleUsage(IPAddress source, IPEndPoint destination, int capacity, int active, int idle, int timeWait, int remaining, int external, int closing, int externalTimeWait, bool isQuarantined)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentOutOfRangeException.ThrowIfNegative(externalTimeWait);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(externalTimeWait, Math.Max(0, external));
        Source = source;
        Destination = destination;
        Capacity = capacity;
        Active = active;
        Idle = idle;
        TimeWait = timeWait;
        Remaining = remaining;
        External = external;
        Closing = closing;
        ExternalTimeWait = externalTimeWait;
        IsQuarantined = isQuarantined;
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
    /// Ports free for new connections: Capacity − Active − Idle − TimeWait − Closing − External,
    /// never negative; 0 while the source <see cref="IsQuarantined"/> (it gives no port then).
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

    /// <summary>
    /// Of <see cref="External"/>, the ports the kernel listed in TIME_WAIT when it refused one:
    /// closes of an earlier process (a restart within 60 s), or the pool's own closes outliving
    /// their charge. They end within 60 s of their close (<c>TCP_TIMEWAIT_LEN</c>).
    /// </summary>
    public int ExternalTimeWait { get; }

    /// <summary>
    /// The source is quarantined: binding to it failed (<see cref="TuplePoolOptions.SourceQuarantine"/>),
    /// so it opens no connection on this tuple and <see cref="Remaining"/> is 0 until it is back.
    /// </summary>
    public bool IsQuarantined { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"{Source}{(IsQuarantined ? " (quarantined)" : string.Empty)} -> {Destination}: {Active} active, {Idle} idle, {TimeWait} TIME_WAIT, {(Closing > 0 ? $"{Closing} closing, " : string.Empty)}{External} held by others{(ExternalTimeWait > 0 ? $" ({ExternalTimeWait} in TIME_WAIT)" : string.Empty)}, {Remaining} of {Capacity} free");
}
