using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Sources;

namespace TuplePool.Pooling;

/// <summary>
/// Which tuples serve a destination's addresses, and what they have left: the questions a
/// <see cref="DestinationPool"/> asks about the budget before it waits and when it wakes.
/// </summary>
internal sealed class TupleLookup(SourceSelector selector, TupleBudget budget, TimeProvider timeProvider)
{
    public TupleBudget Budget => budget;

    /// <summary>The configured sources of <paramref name="address"/>'s family, quarantined or not.</summary>
    public IReadOnlyList<SourceAddress> SourcesFor(IPAddress address) => selector.SourcesFor(address);

    public bool HasSourceFor(AddressFamily family)
        => selector.SourcesFor(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any).Count > 0;

    /// <summary>True when a healthy source has a free port to one of <paramref name="addresses"/>.</summary>
    public bool HasRoom(IReadOnlyList<IPEndPoint> addresses)
    {
        var now = timeProvider.GetTimestamp();
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            foreach (var source in selector.SourcesFor(address.Address))
            {
                if (!source.IsQuarantined(now) && budget.GetLedger(new ConnectionTuple(source.Address, address)).Remaining > 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>When the next charged port of a healthy source's tuple to <paramref name="addresses"/> frees by itself, or null.</summary>
    public long? NextExpiry(IReadOnlyList<IPEndPoint> addresses)
    {
        var now = timeProvider.GetTimestamp();
        long? next = null;
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            foreach (var source in selector.SourcesFor(address.Address))
            {
                if (!source.IsQuarantined(now)
                    && budget.GetLedger(new ConnectionTuple(source.Address, address)).NextExpiryTimestamp is { } expiry
                    && (next is null || expiry < next))
                {
                    next = expiry;
                }
            }
        }

        return next;
    }
}
