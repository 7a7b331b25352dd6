using System.Net;
using TuplePool.Budget;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// Reads what the pool holds into the public views: <see cref="TuplePoolSnapshot"/> for every
/// tuple and NAT ledger that holds something, and the usage of the tuples that could serve one
/// destination (for the errors an acquire ends with). Idle counts are summed over every
/// destination, since a name and its address share tuples. A quarantined source's tuples show no
/// free port (it cannot give one), and every configured source is listed with its quarantine. The
/// refusals come from the pool's <see cref="RefusalRecord"/>.
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
        var quarantined = Quarantined(out var sources);
        var idle = CountIdleByLedger();
        var usage = new List<TupleUsage>();
        var nat = new List<NatUsage>();
        foreach (var entry in tuples.Budget.Destinations)
        {
            foreach (var ledger in entry.Ledgers)
            {
                if (!ledger.IsRetired)
                {
                    usage.Add(Usage(ledger, idle.GetValueOrDefault(ledger), quarantined.Contains(ledger.Tuple.Source)));
                }
            }

            if (entry.Nat is { } ledgerOfNat && !ledgerOfNat.HoldsNothing)
            {
                nat.Add(Usage(ledgerOfNat));
            }
        }

        // By source, then destination, as text: each key written once, not at every comparison.
        var keys = new (string Source, string Destination)[usage.Count];
        var sorted = usage.ToArray();
        for (var i = 0; i < sorted.Length; i++)
        {
            keys[i] = (sorted[i].Source.ToString(), sorted[i].Destination.ToString());
        }

        Array.Sort(keys, sorted, TextOrder.Instance);
        usage = [.. sorted];
        nat.Sort(static (a, b) => string.CompareOrdinal(a.Destination.ToString(), b.Destination.ToString()));
        var (refused, lastRefusal) = refusals.Read();
        var (background, lastBackground) = refusals.ReadBackground();
        return new TuplePoolSnapshot(usage, destinations.PendingAcquires, refused, lastRefusal, nat, background, lastBackground, sources);
    }

    /// <summary>
    /// The pool-wide sums of <see cref="Build"/>'s snapshot (<see cref="PoolTotals.Of"/> of it, when
    /// nothing changes in between) in one pass over the ledgers and the idle stores' counts: no
    /// per-tuple object, no sort. What the meter reads at each collection.
    /// </summary>
    public PoolTotals ReadTotals()
    {
        Interlocked.Increment(ref _totalReads);
        var quarantined = QuarantinedNow();
        long idle = 0;
        foreach (var destination in destinations.WithConnections)
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
                    remaining += quarantined?.Contains(ledger.Tuple.Source) == true ? 0 : ledger.Remaining;
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

    /// <summary>One entry per source of each address's family, quarantined or not (a healthy source with nothing on the tuple shows its whole capacity, a quarantined one none), and one per address a prefix has in use there.</summary>
    public IReadOnlyList<TupleUsage> UsageFor(IReadOnlyList<IPEndPoint> addresses)
    {
        var usage = new List<TupleUsage>();
        if (addresses.Count == 0)
        {
            return usage;
        }

        var idle = CountIdleByLedger();
        var capacity = tuples.Budget.CapacityPerTuple;
        var now = destinations.Settings.TimeProvider.GetTimestamp();
        foreach (var address in addresses)
        {
            var entry = tuples.Budget.Find(address);
            foreach (var source in tuples.SourcesFor(address.Address))
            {
                var quarantined = source.IsQuarantined(now);
                if (source.Prefix is { } prefix)
                {
                    // A prefix shows the addresses it has in use there, like listed sources.
                    foreach (var lent in prefix.InUse(entry))
                    {
                        usage.Add(Usage(lent, idle.GetValueOrDefault(lent), quarantined));
                    }

                    continue;
                }

                usage.Add(entry?.Find(source.Address) is { } ledger
                    ? Usage(ledger, idle.GetValueOrDefault(ledger), quarantined)
                    : new TupleUsage(DestinationKeys.Copy(source.Address), DestinationKeys.Copy(address), capacity, 0, 0, 0, quarantined ? 0 : capacity, 0, 0, 0, quarantined));
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
        foreach (var destination in destinations.WithConnections)
        {
            destination.CountIdle(idle);
        }

        return idle;
    }

    private static NatUsage Usage(NatLedger nat)
        => new(DestinationKeys.Copy(nat.Destination), nat.Limit, nat.Open, nat.Holding, nat.Remaining, nat.Grant);

    /// <summary>
    /// The configured sources quarantined now (a small set: sources are few), with every
    /// configured source's status in <paramref name="sources"/>.
    /// </summary>
    private HashSet<IPAddress> Quarantined(out List<SourceStatus> sources)
    {
        var time = destinations.Settings.TimeProvider;
        var now = time.GetTimestamp();
        var utcNow = time.GetUtcNow();
        var quarantined = new HashSet<IPAddress>();
        sources = [];
        foreach (var source in tuples.ConfiguredSources)
        {
            DateTimeOffset? until = null;
            if (source.IsQuarantined(now))
            {
                quarantined.Add(source.Address);
                until = utcNow + time.GetElapsedTime(now, source.QuarantinedUntil);
            }

            sources.Add(new SourceStatus(DestinationKeys.Copy(source.Address), until));
        }

        return quarantined;
    }

    /// <summary>The configured sources quarantined now; null when none is (the common case: nothing allocated).</summary>
    private HashSet<IPAddress>? QuarantinedNow()
    {
        var now = destinations.Settings.TimeProvider.GetTimestamp();
        HashSet<IPAddress>? quarantined = null;
        foreach (var source in tuples.ConfiguredSources)
        {
            if (source.IsQuarantined(now))
            {
                (quarantined ??= []).Add(source.Address);
            }
        }

        return quarantined;
    }

    private static TupleUsage Usage(TupleLedger ledger, int idle, bool quarantined)
    {
        var open = ledger.Open;
        var external = ledger.External;

        // Copies: the ledger's addresses are dictionary keys, and the caller may change what it gets.
        return new TupleUsage(
            DestinationKeys.Copy(ledger.Tuple.Source),
            DestinationKeys.Copy(ledger.Tuple.Destination),
            ledger.Capacity,
            Math.Max(0, open - idle),
            Math.Min(idle, open),
            ledger.TimeWait,
            quarantined ? 0 : ledger.Remaining,
            external,
            ledger.Closing,
            Math.Min(ledger.ExternalTimeWait, external),
            quarantined);
    }

    private sealed class TextOrder : IComparer<(string Source, string Destination)>
    {
        public static readonly TextOrder Instance = new();

        public int Compare((string Source, string Destination) x, (string Source, string Destination) y)
        {
            var bySource = string.CompareOrdinal(x.Source, y.Source);
            return bySource != 0 ? bySource : string.CompareOrdinal(x.Destination, y.Destination);
        }
    }
}
