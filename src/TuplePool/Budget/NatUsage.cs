using System.Globalization;
using System.Net;
using System.Text.Json.Serialization;
using TuplePool.Serialization;

namespace TuplePool;

/// <summary>How the pool uses a NAT's ports to one destination IP and port (<see cref="TuplePoolOptions.Nat"/>).</summary>
public sealed class NatUsage
{
    /// <summary>Creates a usage record.</summary>
    public NatUsage(IPEndPoint destination, int capacity, int active, int holding, int remaining, int? grant)
    {
        ArgumentNullException.ThrowIfNull(destination);
        Destination = destination;
        Capacity = capacity;
        Active = active;
        Holding = holding;
        Remaining = remaining;
        Grant = grant;
    }

    /// <summary>The destination behind the NAT.</summary>
    [JsonConverter(typeof(IPEndPointJsonConverter))]
    public IPEndPoint Destination { get; }

    /// <summary>Ports this instance may hold through the NAT to it: <see cref="NatOptions.PortsPerDestination"/>, or the fleet's grant when smaller.</summary>
    public int Capacity { get; }

    /// <summary>Connections open through the NAT (leased, idle or connecting), whichever local source they use.</summary>
    public int Active { get; }

    /// <summary>Ports the NAT still holds after closes (<see cref="NatOptions.HoldAfterClose"/>) and resets (<see cref="NatOptions.HoldAfterReset"/>).</summary>
    public int Holding { get; }

    /// <summary>Ports free for new connections through the NAT: Capacity − Active − Holding, never negative.</summary>
    public int Remaining { get; }

    /// <summary>The fleet's grant to this instance for the destination (<see cref="IFleetBudget"/>); null without a fleet.</summary>
    public int? Grant { get; }

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"NAT -> {Destination}: {Active} active, {Holding} held after close, {Remaining} of {Capacity} free{(Grant is { } grant ? $" (fleet grant {grant})" : string.Empty)}");
}
