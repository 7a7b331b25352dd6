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

    /// <summary>True when <paramref name="family"/> has configured sources and every one is quarantined.</summary>
    public bool AllSourcesQuarantined(AddressFamily family)
        => selector.AllQuarantined(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any);

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

    /// <summary>
    /// When a source may next have a port for <paramref name="addresses"/> by itself, or null: a
    /// charged port of a healthy source running out (TIME_WAIT, census correction), or a
    /// quarantined source coming back with room.
    /// </summary>
    /// <remarks>
    /// A quarantine's end frees nothing and closes nothing, and it is noticed lazily (by the next
    /// selection, <see cref="SourceSelector.TryReserve"/>): without a time here a caller waiting
    /// for the only source with room would sleep through it until AcquireTimeout. A quarantined
    /// source is worth a wake when its quarantine ends if it has room then, or when its next
    /// charged port frees if that is later; one whose ports are all open connections is not (their
    /// closes wake the line).
    /// </remarks>
    public long? NextExpiry(IReadOnlyList<IPEndPoint> addresses)
    {
        var now = timeProvider.GetTimestamp();
        long? next = null;
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            foreach (var source in selector.SourcesFor(address.Address))
            {
                var ledger = budget.GetLedger(new ConnectionTuple(source.Address, address));
                var quarantinedUntil = source.QuarantinedUntil;
                var at = quarantinedUntil <= now ? ledger.NextExpiryTimestamp
                    : ledger.Remaining > 0 ? quarantinedUntil
                    : ledger.NextExpiryTimestamp is { } expiry ? Math.Max(expiry, quarantinedUntil)
                    : null;
                if (at is { } due && (next is null || due < next))
                {
                    next = due;
                }
            }
        }

        return next;
    }
}
