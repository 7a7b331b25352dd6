using System.Net;
using TuplePool.Budget;

namespace TuplePool.Pooling;

/// <summary>
/// Reads what the pool holds into the public views: <see cref="TuplePoolSnapshot"/> for every
/// live tuple, and the usage of the tuples that could serve one destination (for the errors an
/// acquire ends with). Idle counts are summed over every destination, since a name and its
/// address share tuples. The refusals come from the pool's <see cref="RefusalRecord"/>.
/// </summary>
internal sealed class SnapshotBuilder(DestinationRegistry destinations, TupleLookup tuples, RefusalRecord refusals)
{
    public TuplePoolSnapshot Build()
    {
        var idle = CountIdleByLedger();
        var usage = new List<TupleUsage>();
        foreach (var ledger in tuples.Budget.Ledgers)
        {
            if (!ledger.IsRetired)
            {
                usage.Add(Usage(ledger, idle.GetValueOrDefault(ledger)));
            }
        }

        usage.Sort(static (a, b) =>
        {
            var bySource = string.CompareOrdinal(a.Source.ToString(), b.Source.ToString());
            return bySource != 0 ? bySource : string.CompareOrdinal(a.Destination.ToString(), b.Destination.ToString());
        });
        var (refused, lastRefusal) = refusals.Read();
        return new TuplePoolSnapshot(usage, destinations.PendingAcquires, refused, lastRefusal);
    }

    /// <summary>One entry per source of each address's family, quarantined or not.</summary>
    public IReadOnlyList<TupleUsage> UsageFor(IReadOnlyList<IPEndPoint> addresses)
    {
        var usage = new List<TupleUsage>();
        if (addresses.Count == 0)
        {
            return usage;
        }

        var idle = CountIdleByLedger();
        foreach (var address in addresses)
        {
            foreach (var source in tuples.SourcesFor(address.Address))
            {
                var ledger = tuples.Budget.GetLedger(new ConnectionTuple(source.Address, address));
                usage.Add(Usage(ledger, idle.GetValueOrDefault(ledger)));
            }
        }

        return usage;
    }

    private Dictionary<TupleLedger, int> CountIdleByLedger()
    {
        var idle = new Dictionary<TupleLedger, int>();
        foreach (var destination in destinations.All)
        {
            destination.CountIdle(idle);
        }

        return idle;
    }

    private static TupleUsage Usage(TupleLedger ledger, int idle)
    {
        var open = ledger.Open;

        // Copies: the ledger's addresses are dictionary keys, and the caller may change what it gets.
        return new TupleUsage(
            DestinationKeys.Copy(ledger.Tuple.Source),
            DestinationKeys.Copy(ledger.Tuple.Destination),
            ledger.Capacity,
            Math.Max(0, open - idle),
            Math.Min(idle, open),
            ledger.TimeWait,
            ledger.Remaining,
            ledger.External);
    }
}
