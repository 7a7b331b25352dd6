using System.Net;
using TuplePool.Budget;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// Reads what the pool holds into the public views: <see cref="TuplePoolSnapshot"/> for every
/// tuple and NAT ledger that holds something, and the usage of the tuples that could serve one
/// destination (for the errors an acquire ends with). Idle counts are summed over every
/// destination, since a name and its address share tuples. The refusals come from the pool's
/// <see cref="RefusalRecord"/>.
/// </summary>
internal sealed class SnapshotBuilder(DestinationRegistry destinations, TupleLookup tuples, RefusalRecord refusals)
{
    private long _builds;
    private long _totalReads;

    /// <summary>Snapshots built so far (for the metrics tests: one per collection at most).</summary>
    internal long Builds => Interlocked.Read(ref _builds);

    /// <summary><see cref="ReadTotals"/> calls so far.</summary>
    internal long TotalReads => Interlocked.Read(ref _totalReads);

    public TuplePoolSnapshot Build()
    {
        Interlocked.Increment(ref _builds);
        var idle = CountIdleByLedger();
        var usage = new List<TupleUsage>();
        var nat = new List<NatUsage>();
        foreach (var entry in tuples.Budget.Destinations)
        {
            foreach (var ledger in entry.Ledgers)
            {
                if (!ledger.IsRetired)
                {
                    usage.Add(Usage(ledger, idle.GetValueOrDefault(ledger)));
                }
            }

            if (entry.Nat is { } ledgerOfNat && !ledgerOfNat.HoldsNothing)
            {
                nat.Add(Usage(ledgerOfNat));
            }
        }

        usage.Sort(static (a, b) =>
        {
            var bySource = string.CompareOrdinal(a.Source.ToString(), b.Source.ToString());
            return bySource != 0 ? bySource : string.CompareOrdinal(a.Destination.ToString(), b.Destination.ToString());
        });
        nat.Sort(static (a, b) => string.CompareOrdinal(a.Destination.ToString(), b.Destination.ToString()));
        var (refused, lastRefusal) = refusals.Read();
        return new TuplePoolSnapshot(usage, destinations.PendingAcquires, refused, lastRefusal, nat);
    }

    /// <summary>
    /// The pool-wide sums of <see cref="Build"/>'s snapshot (<see cref="PoolTotals.Of"/> of it, when
    /// nothing changes in between) in one pass over the ledgers and the idle stores' counts: no
    /// per-tuple object, no sort. What the meter reads at each collection.
    /// </summary>
    public PoolTotals ReadTotals()
    {
        Interlocked.Increment(ref _totalReads);
        long idle = 0;
        foreach (var destination in destinations.All)
        {
            idle += destination.IdleCount;
        }

        long count = 0, open = 0, timeWait = 0, remaining = 0, natActive = 0, natHolding = 0, natRemaining = 0;
        foreach (var entry in tuples.Budget.Destinations)
        {
            foreach (var ledger in entry.Ledgers)
            {
                if (!ledger.IsRetired)
                {
                    count++;
                    open += ledger.Open;
                    timeWait += ledger.TimeWait;
                    remaining += ledger.Remaining;
                }
            }

            if (entry.Nat is { } nat && !nat.HoldsNothing)
            {
                natActive += nat.Open;
                natHolding += nat.Holding;
                natRemaining += nat.Remaining;
            }
        }

        idle = Math.Min(idle, open);
        return new PoolTotals(count, open - idle, idle, timeWait, remaining, natActive, natHolding, natRemaining);
    }

    /// <summary>One entry per source of each address's family, quarantined or not (a source with nothing on the tuple shows its whole capacity), and one per address a prefix has in use there.</summary>
    public IReadOnlyList<TupleUsage> UsageFor(IReadOnlyList<IPEndPoint> addresses)
    {
        var usage = new List<TupleUsage>();
        if (addresses.Count == 0)
        {
            return usage;
        }

        var idle = CountIdleByLedger();
        var capacity = tuples.Budget.CapacityPerTuple;
        foreach (var address in addresses)
        {
            var entry = tuples.Budget.Find(address);
            foreach (var source in tuples.SourcesFor(address.Address))
            {
                if (source.Prefix is { } prefix)
                {
                    // A prefix shows the addresses it has in use there, like listed sources.
                    foreach (var lent in prefix.InUse(entry))
                    {
                        usage.Add(Usage(lent, idle.GetValueOrDefault(lent)));
                    }

                    continue;
                }

                usage.Add(entry?.Find(source.Address) is { } ledger
                    ? Usage(ledger, idle.GetValueOrDefault(ledger))
                    : new TupleUsage(DestinationKeys.Copy(source.Address), DestinationKeys.Copy(address), capacity, 0, 0, 0, capacity, 0));
            }
        }

        return usage;
    }

    /// <summary>The NAT's usage for each of <paramref name="addresses"/> behind it that holds something.</summary>
    public IReadOnlyList<NatUsage> NatUsageFor(IReadOnlyList<IPEndPoint> addresses)
    {
        var usage = new List<NatUsage>();
        foreach (var address in addresses)
        {
            if (tuples.Budget.Find(address)?.Nat is { } nat)
            {
                usage.Add(Usage(nat));
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

    private static NatUsage Usage(NatLedger nat)
        => new(DestinationKeys.Copy(nat.Destination), nat.Limit, nat.Open, nat.Holding, nat.Remaining, nat.Grant);

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
            ledger.External,
            ledger.Closing);
    }
}
