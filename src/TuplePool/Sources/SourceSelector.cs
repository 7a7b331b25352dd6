using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Internal;

namespace TuplePool.Sources;

/// <summary>
/// Chooses the source address for a new connection: only sources of the destination's address
/// family, healthy ones, the one with most remaining budget first (or in turn), and reserves a
/// port on the chosen tuple. A source prefix is one source among the others: its
/// <see cref="PrefixSource"/> offers the address with most room (normally an untouched one), and
/// that address's tuple is charged.
/// </summary>
internal sealed class SourceSelector
{
    /// <summary>With more sources than this, a selection reads a busy destination's ledgers in one pass (<see cref="LedgerRoom"/>).</summary>
    private const int ScanLimit = 8;

    /// <summary>Sources whose per-source scratch fits on the stack (1 KB of ints); more take an array.</summary>
    private const int StackLimit = 256;

    private readonly SourceAddress[] _ipv4;
    private readonly SourceAddress[] _ipv6;
    private readonly Dictionary<IPAddress, int>? _ipv4Index;
    private readonly Dictionary<IPAddress, int>? _ipv6Index;
    private readonly TupleBudget _budget;
    private readonly TimeProvider _timeProvider;
    private readonly SourceSelectionMode _mode;
    private readonly long _quarantineTicks;
    private int _roundRobin;

    /// <summary>Raised once when a quarantined source is found usable again.</summary>
    public event Action<SourceAddress>? SourceRestored;

    /// <summary>The sources of <paramref name="configured"/> addresses, then one per prefix of <paramref name="prefixes"/>; with neither, the kernel chooses.</summary>
    public SourceSelector(IList<IPAddress> configured, SourceSelectionMode mode, TimeSpan quarantine, TupleBudget budget, TimeProvider timeProvider, IList<IPNetwork>? prefixes = null)
    {
        _budget = budget;
        _timeProvider = timeProvider;
        _mode = mode;
        _quarantineTicks = Timestamps.ToTicks(quarantine, timeProvider);
        prefixes ??= [];
        if (configured.Count == 0 && prefixes.Count == 0)
        {
            _ipv4 = [new SourceAddress(IPAddress.Any, isImplicit: true)];
            _ipv6 = [new SourceAddress(IPAddress.IPv6Any, isImplicit: true)];
        }
        else
        {
            var all = configured.Select(a => new SourceAddress(a, false))
                .Concat(prefixes.Select(p => new SourceAddress(new PrefixSource(p))))
                .ToList();
            _ipv4 = all.Where(s => s.Address.AddressFamily == AddressFamily.InterNetwork).ToArray();
            _ipv6 = all.Where(s => s.Address.AddressFamily == AddressFamily.InterNetworkV6).ToArray();
            _ipv4Index = IndexOf(_ipv4);
            _ipv6Index = IndexOf(_ipv6);
        }
    }

    /// <summary>Every configured source, IPv4 first, in the order given; empty when the kernel chooses (for snapshots).</summary>
    public IEnumerable<SourceAddress> Configured => _ipv4.Concat(_ipv6).Where(static s => !s.IsImplicit);

    /// <summary>The budget the selector reserves on.</summary>
    public TupleBudget Budget => _budget;

    /// <summary>The sources that may serve <paramref name="destination"/>, quarantined or not.</summary>
    public IReadOnlyList<SourceAddress> SourcesFor(IPAddress destination)
        => destination.AddressFamily == AddressFamily.InterNetworkV6 ? _ipv6 : _ipv4;

    /// <summary>
    /// Charges a port on the best tuple to <paramref name="destination"/>, skipping sources in
    /// <paramref name="exclude"/> (those that already failed in this acquire). Null when none has room.
    /// </summary>
    public ConnectionCharge? TryReserve(IPEndPoint destination, IReadOnlyCollection<SourceAddress>? exclude, out SourceAddress? source)
    {
        source = null;
        var sources = SourcesFor(destination.Address);
        if (sources.Count == 0)
        {
            return null;
        }

        var now = _timeProvider.GetTimestamp();
        if (_mode == SourceSelectionMode.RoundRobin)
        {
            var start = (int)((uint)Interlocked.Increment(ref _roundRobin) % (uint)sources.Count);
            for (var i = 0; i < sources.Count; i++)
            {
                var candidate = sources[(start + i) % sources.Count];
                if (IsUsable(candidate, exclude, now) && TryCharge(candidate, destination) is { } charge)
                {
                    source = candidate;
                    return charge;
                }
            }

            return null;
        }

        // Most remaining first, ties to the source listed first. A source with nothing on its tuple
        // to the destination has its whole capacity, the most any can have, so the walk stops at
        // the first such one: with many sources and a new destination this costs one look, not one
        // per source. Another thread may take the last port between the look and the charge, so
        // walk on in order of room until one charge holds.
        var entry = _budget.For(destination);
        if (!entry.NatHasRoom)
        {
            return null; // every source leaves through the NAT, and it has no port to give
        }

        var capacity = _budget.CapacityPerTuple;
        Span<int> remaining = sources.Count <= StackLimit ? stackalloc int[sources.Count] : new int[sources.Count];

        // Many sources and a destination many of them hold ports to: every source's room from one
        // pass over the ledgers, where a lookup per source would cost sources x ledgers.
        var index = destination.AddressFamily == AddressFamily.InterNetworkV6 ? _ipv6Index : _ipv4Index;
        var ledgerRoom = index is not null && entry.Ledgers.Count > ScanLimit
            ? LedgerRoom(entry, index, capacity, sources.Count <= StackLimit ? stackalloc int[sources.Count] : new int[sources.Count])
            : default;
        IPAddress?[]? picks = null; // the address each prefix offers; made only when there is a prefix
        for (var i = 0; i < sources.Count; i++)
        {
            var candidate = sources[i];
            if (!IsUsable(candidate, exclude, now))
            {
                remaining[i] = -1;
                continue;
            }

            var address = candidate.Address;
            if (candidate.Prefix is { } prefix)
            {
                var picked = prefix.Pick(entry, capacity, out var room);
                if (picked is null)
                {
                    remaining[i] = -1;
                    continue;
                }

                picks ??= new IPAddress?[sources.Count];
                picks[i] = picked;
                address = picked;
                remaining[i] = room;
            }
            else
            {
                remaining[i] = ledgerRoom.IsEmpty ? entry.RemainingFor(address) : ledgerRoom[i];
            }

            if (remaining[i] >= capacity)
            {
                // Untouched: nothing can beat it. Fill in the rest lazily only if this charge fails.
                if (_budget.TryCharge(new ConnectionTuple(address, destination)) is { } fresh)
                {
                    source = candidate;
                    return fresh;
                }

                remaining[i] = -1;
            }
        }

        for (var attempt = 0; attempt < sources.Count; attempt++)
        {
            var best = -1;
            for (var i = 0; i < remaining.Length; i++)
            {
                if (remaining[i] > 0 && (best < 0 || remaining[i] > remaining[best]))
                {
                    best = i;
                }
            }

            if (best < 0)
            {
                return null;
            }

            var chosen = sources[best];
            if (_budget.TryCharge(new ConnectionTuple(picks?[best] ?? chosen.Address, destination)) is { } charge)
            {
                source = chosen;
                return charge;
            }

            remaining[best] = -1;
        }

        return null;
    }

    /// <summary>
    /// True when <paramref name="source"/> has a free port to the destination of
    /// <paramref name="entry"/> (null: nothing is held there): its tuple has one, or, for a prefix,
    /// one of its addresses has. Quarantine is not looked at.
    /// </summary>
    public bool HasRoom(SourceAddress source, DestinationTuples? entry)
        => source.Prefix is { } prefix ? prefix.HasRoom(entry) : entry is null || entry.RemainingFor(source.Address) > 0;

    /// <summary>
    /// When a charged port of <paramref name="source"/> to the destination of <paramref name="entry"/>
    /// next frees by itself (a TIME_WAIT or a census hold ending), or null: for a prefix, the
    /// earliest over its addresses in use there.
    /// </summary>
    public static long? NextExpiryFor(SourceAddress source, DestinationTuples? entry)
    {
        if (source.Prefix is not { } prefix)
        {
            return entry?.Find(source.Address)?.NextExpiryTimestamp;
        }

        long? next = null;
        foreach (var ledger in prefix.InUse(entry))
        {
            if (ledger.NextExpiryTimestamp is { } at && (next is null || at < next))
            {
                next = at;
            }
        }

        return next;
    }

    /// <summary>True when a source for <paramref name="destination"/> is neither in <paramref name="tried"/> nor quarantined: another attempt could use it.</summary>
    public bool HasUntried(IPAddress destination, IReadOnlyCollection<SourceAddress>? tried)
    {
        var now = _timeProvider.GetTimestamp();
        foreach (var source in SourcesFor(destination))
        {
            if (!source.IsQuarantined(now) && (tried is null || !tried.Contains(source)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Takes a source that could not bind out for the quarantine time; true when it was in.</summary>
    public bool Quarantine(SourceAddress source)
    {
        var now = _timeProvider.GetTimestamp();
        return source.Quarantine(now, now + _quarantineTicks);
    }

    /// <summary>True when every source for <paramref name="destination"/>'s family is quarantined.</summary>
    public bool AllQuarantined(IPAddress destination)
    {
        var now = _timeProvider.GetTimestamp();
        var sources = SourcesFor(destination);
        return sources.Count > 0 && sources.All(s => s.IsQuarantined(now));
    }

    /// <summary>Each plain source's position in its family's list, for a selection among more than <see cref="ScanLimit"/>; null for fewer.</summary>
    private static Dictionary<IPAddress, int>? IndexOf(SourceAddress[] sources)
    {
        if (sources.Length <= ScanLimit)
        {
            return null;
        }

        var index = new Dictionary<IPAddress, int>(sources.Length);
        for (var i = 0; i < sources.Length; i++)
        {
            if (sources[i].Prefix is null)
            {
                index.TryAdd(sources[i].Address, i);
            }
        }

        return index;
    }

    /// <summary>The room of every plain source's tuple to <paramref name="entry"/>'s address, in <paramref name="room"/>: the whole capacity where the source holds nothing.</summary>
    private static Span<int> LedgerRoom(DestinationTuples entry, Dictionary<IPAddress, int> index, int capacity, Span<int> room)
    {
        room.Fill(capacity);
        var ledgers = entry.Ledgers;
        for (var l = 0; l < ledgers.Count; l++)
        {
            if (index.TryGetValue(ledgers[l].Tuple.Source, out var i))
            {
                room[i] = ledgers[l].Remaining;
            }
        }

        return room;
    }

    /// <summary>Charges a port of <paramref name="source"/>'s tuple to <paramref name="destination"/>, for a prefix on the address it picks; null when it has no room.</summary>
    private ConnectionCharge? TryCharge(SourceAddress source, IPEndPoint destination)
    {
        if (source.Prefix is not { } prefix)
        {
            return _budget.TryCharge(new ConnectionTuple(source.Address, destination));
        }

        // Another caller may fill the picked address between the pick and the charge: pick again.
        for (var attempt = 0; attempt < PrefixSource.Probes; attempt++)
        {
            if (prefix.Pick(_budget.Find(destination), _budget.CapacityPerTuple, out _) is not { } address)
            {
                return null;
            }

            if (_budget.TryCharge(new ConnectionTuple(address, destination)) is { } charge)
            {
                return charge;
            }
        }

        return null;
    }

    private bool IsUsable(SourceAddress source, IReadOnlyCollection<SourceAddress>? exclude, long now)
    {
        if (source.IsQuarantined(now))
        {
            return false;
        }

        if (source.TryEndQuarantine(now))
        {
            SourceRestored?.Invoke(source);
        }

        return exclude is null || !exclude.Contains(source);
    }
}
