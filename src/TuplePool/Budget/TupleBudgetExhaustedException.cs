using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TuplePool;

/// <summary>
/// No source address had a free port to the destination within
/// <see cref="TuplePoolOptions.AcquireTimeout"/>, or <see cref="TuplePoolOptions.MaxPendingAcquires"/>
/// callers were already waiting for one. TuplePool throws this instead of letting the kernel
/// fail a connect with <c>EADDRNOTAVAIL</c>; <see cref="SocketException.SocketErrorCode"/> is
/// <see cref="SocketError.AddressNotAvailable"/> so existing handlers keep working.
/// </summary>
public sealed class TupleBudgetExhaustedException : SocketException
{
    private readonly string _message;

    /// <summary>Creates the exception for <paramref name="destination"/> with the usage of each source.</summary>
    public TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage)
        : this(destination, usage, nat: [])
    {
    }

    /// <summary>Creates the exception for <paramref name="destination"/> with the usage of each source and of the NAT on the path.</summary>
    public TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat)
        : base((int)SocketError.AddressNotAvailable)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(nat);
        Destination = destination;
        Usage = usage;
        Nat = nat;
        _message = BuildMessage(destination, usage, nat, waitLineLimit: null);
    }

    /// <summary>Refused at once: <paramref name="waitLineLimit"/> callers were already waiting for room.</summary>
    internal TupleBudgetExhaustedException(EndPoint destination, IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat, int waitLineLimit)
        : base((int)SocketError.AddressNotAvailable)
    {
        Destination = destination;
        Usage = usage;
        Nat = nat;
        WaitLineFull = true;
        _message = BuildMessage(destination, usage, nat, waitLineLimit);
    }

    /// <summary>The destination that had no room.</summary>
    public EndPoint Destination { get; }

    /// <summary>The usage of each (source, destination) tuple when the acquire gave up.</summary>
    public IReadOnlyList<TupleUsage> Usage { get; }

    /// <summary>The NAT's usage for each of the destination's addresses behind it (<see cref="TuplePoolOptions.Nat"/>); empty when none is.</summary>
    public IReadOnlyList<NatUsage> Nat { get; }

    /// <summary>True when the NAT on the path was the limit: it had no port left to any of the destination's addresses, whatever the local tuples had.</summary>
    public bool NatIsTheLimit => Nat.Count > 0 && Nat.All(static n => n.Remaining == 0);

    /// <summary>
    /// True when the acquire was refused at once because <see cref="TuplePoolOptions.MaxPendingAcquires"/>
    /// callers were already waiting for the destination; false when it waited out
    /// <see cref="TuplePoolOptions.AcquireTimeout"/>.
    /// </summary>
    public bool WaitLineFull { get; }

    /// <inheritdoc />
    public override string Message => _message;

    /// <summary>"127.0.0.2: 1 active, 0 idle, 0 TIME_WAIT, 0 held by other sockets of 2; …", as the message and log event 4 show it.</summary>
    internal static string Describe(IReadOnlyList<TupleUsage> usage)
    {
        var text = new StringBuilder();
        for (var i = 0; i < usage.Count; i++)
        {
            if (i > 0)
            {
                text.Append("; ");
            }

            var u = usage[i];
            text.Append(CultureInfo.InvariantCulture, $"{u.Source}: {u.Active} active, {u.Idle} idle, {u.TimeWait} TIME_WAIT, {u.External} held by other sockets of {u.Capacity}");
        }

        return text.ToString();
    }

    private static string BuildMessage(EndPoint destination, IReadOnlyList<TupleUsage> usage, IReadOnlyList<NatUsage> nat, int? waitLineLimit)
    {
        var text = new StringBuilder();
        var natFull = nat.Count > 0 && nat.All(static n => n.Remaining == 0);
        if (waitLineLimit is { } limit)
        {
            text.Append(CultureInfo.InvariantCulture, $"No port is free to {destination} and the wait line is full: {limit} callers are already waiting (TuplePoolOptions.MaxPendingAcquires)");
        }
        else if (natFull)
        {
            text.Append(CultureInfo.InvariantCulture, $"No port is free to {destination} through the NAT on the path: this instance holds every port the NAT gives it there");
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture, $"No local port is free to {destination}: every source address has used its tuple budget");
        }

        if (natFull)
        {
            text.Append(" (").AppendJoin("; ", nat.Select(static n => n.ToString())).Append(").");
            text.Append(" A NAT that runs out drops the SYN, so the pool waits instead of connecting. Reuse connections (a close keeps the NAT's port for NatOptions.HoldAfterClose),")
                .Append(" give the NAT more addresses or ports and raise NatOptions.PortsPerDestination, or, in a fleet, check the share the fleet budget grants.");
            return text.ToString();
        }

        text.Append(usage.Count == 0
            ? " (no usage recorded)."
            : $" ({Describe(usage)}).");
        var external = usage.Sum(u => u.External);
        if (external > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $" The kernel counts {external} ports of these tuples held by sockets this pool does not own (other processes, or TIME_WAIT an earlier run left).");
        }

        text.Append(" Add source addresses (TuplePoolOptions.SourceAddresses), widen the port range (LocalPortRange or net.ipv4.ip_local_port_range),")
            .Append(" or reuse connections instead of closing them (each graceful close holds its port in TIME_WAIT for 60 s).");
        return text.ToString();
    }
}
