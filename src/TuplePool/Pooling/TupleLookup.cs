using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Sources;

namespace TuplePool.Pooling;

/// <summary>
/// Which tuples serve a destination's addresses, and what they have left: the questions a
/// <see cref="DestinationPool"/> asks about the budget before it waits and when it wakes, and
/// where it registers to be woken when room comes on an address.
/// </summary>
internal sealed class TupleLookup(SourceSelector selector, TupleBudget budget, TimeProvider timeProvider)
{
    public TupleBudget Budget => budget;

    /// <summary>Every configured source, quarantined or not; none when the kernel chooses.</summary>
    public IEnumerable<SourceAddress> ConfiguredSources => selector.Configured;

    /// <summary>The configured sources of <paramref name="address"/>'s family, quarantined or not.</summary>
    public IReadOnlyList<SourceAddress> SourcesFor(IPAddress address) => selector.SourcesFor(address);

    public bool HasSourceFor(AddressFamily family)
        => selector.SourcesFor(family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any).Count > 0;

    /// <summary>True when a healthy source has a free port to one of <paramref name="addresses"/> (and the NAT, behind one, a port too).</summary>
    public bool HasRoom(IReadOnlyList<IPEndPoint> addresses)
    {
        var now = timeProvider.GetTimestamp();
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            var entry = budget.Find(address);
            if (entry is not null && !entry.NatHasRoom)
            {
                continue;
            }

            if (entry is null && budget.CrossesNat(address) && budget.Fleet is { } fleet && fleet.GetGrant(address) <= 0)
            {
                continue; // behind a fleet's NAT with no grant yet: room comes when the fleet grants it
            }

            foreach (var source in selector.SourcesFor(address.Address))
            {
                if (!source.IsQuarantined(now) && selector.HasRoom(source, entry))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>
    /// When a source may next have a port for <paramref name="addresses"/> by itself, or null: a
    /// charged port of a healthy source running out (TIME_WAIT, census correction), a NAT's hold
    /// ending, or a quarantined source coming back with room.
    /// </summary>
    /// <remarks>
    /// A quarantine's end frees nothing and closes nothing, and it is noticed lazily (by the next
    /// selection, <see cref="SourceSelector.TryReserve"/>): without a time here a caller waiting
    /// for the only source with room would sleep through it until AcquireTimeout. A quarantined
    /// source is worth a wake when its quarantine ends if it has room then, or when its next
    /// charged port frees if that is later; one whose ports are all open connections is not (their
    /// closes wake the line). Behind a full NAT only the NAT's next hold ending can bring room.
    /// </remarks>
    public long? NextExpiry(IReadOnlyList<IPEndPoint> addresses)
    {
        var now = timeProvider.GetTimestamp();
        long? next = null;
        for (var i = 0; i < addresses.Count; i++)
        {
            var address = addresses[i];
            var entry = budget.Find(address);
            if (entry?.Nat is { } nat && nat.Remaining == 0)
            {
                Earliest(ref next, nat.NextExpiryTimestamp);
                continue;
            }

            foreach (var source in selector.SourcesFor(address.Address))
            {
                var quarantinedUntil = source.QuarantinedUntil;
                var expiry = SourceSelector.NextExpiryFor(source, entry);
                var at = quarantinedUntil <= now ? expiry
                    : selector.HasRoom(source, entry) ? quarantinedUntil
                    : expiry is { } e ? Math.Max(e, quarantinedUntil)
                    : null;
                Earliest(ref next, at);
            }
        }

        return next;
    }

    /// <summary>
    /// Registers <paramref name="watcher"/> to be woken when room may come on any of
    /// <paramref name="addresses"/> (a close of another destination's connection there, an expiry,
    /// a fleet grant). Called after the caller joined the line and before its second look.
    /// </summary>
    public void Watch(IRoomWatcher watcher, IReadOnlyList<IPEndPoint> addresses)
    {
        for (var i = 0; i < addresses.Count; i++)
        {
            DestinationTuples entry;
            while (!(entry = budget.For(addresses[i])).Watch(watcher))
            {
                // Retired as we came: watch the fresh entry.
            }

            budget.ReportToFleet(entry); // behind a fleet's NAT: callers now wait for a grant there
        }
    }

    /// <summary>Stops watching <paramref name="addresses"/> (the destination is retired or disposed).</summary>
    public void Unwatch(IRoomWatcher watcher, IReadOnlyList<IPEndPoint> addresses)
    {
        for (var i = 0; i < addresses.Count; i++)
        {
            budget.Find(addresses[i])?.Unwatch(watcher, onlyIfIdle: false);
        }
    }

    /// <summary>Stops watching <paramref name="addresses"/> when <paramref name="watcher"/> has nobody waiting (checked under each entry's lock, against a caller joining its line).</summary>
    public void UnwatchIfIdle(IRoomWatcher watcher, IReadOnlyList<IPEndPoint> addresses)
    {
        for (var i = 0; i < addresses.Count; i++)
        {
            budget.Find(addresses[i])?.Unwatch(watcher, onlyIfIdle: true);
        }
    }

    private static void Earliest(ref long? next, long? at)
    {
        if (at is { } due && (next is null || due < next))
        {
            next = due;
        }
    }
}
