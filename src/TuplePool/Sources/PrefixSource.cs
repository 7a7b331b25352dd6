using System.Net;
using TuplePool.Budget;
using TuplePool.Options;

namespace TuplePool.Sources;

/// <summary>
/// Hands out the addresses of one source prefix (<see cref="TuplePoolOptions.SourcePrefixes"/>):
/// for each new connection an address whose tuple to the destination has the most room,
/// normally one with nothing on it. It keeps one counter, never a list: the next address is the
/// counter's, so consecutive connections take consecutive addresses and an address comes round
/// again only after every other one has. What an address holds is its ledger in the budget,
/// which exists only while the address is in use, so memory follows the connections open and
/// closing, not the prefix's size (2^64 addresses for an IPv6 /64).
/// </summary>
/// <remarks>
/// The counter is shared by every destination: a connection to one destination moves it on for
/// all. That costs nothing (another destination's tuples are other tuples) and needs no state per
/// destination. It starts at a random address, so two pools (or processes) on one prefix do not
/// walk it in step.
/// </remarks>
internal sealed class PrefixSource
{
    /// <summary>Addresses looked at from the counter before the best of them is taken.</summary>
    internal const int Probes = 4;

    private readonly UInt128 _count;
    private ulong _next;

    /// <summary>A prefix source whose counter starts at <paramref name="start"/> (null: at random).</summary>
    public PrefixSource(IPNetwork network, ulong? start = null)
    {
        Network = network;
        _count = PrefixAddresses.UsableCount(network);
        if (_count == 0)
        {
            throw new ArgumentException($"{network} has no usable address.", nameof(network));
        }

        _next = start ?? unchecked((ulong)Random.Shared.NextInt64(long.MinValue, long.MaxValue));
    }

    public IPNetwork Network { get; }

    /// <summary>How many addresses the prefix lends (<see cref="PrefixAddresses.UsableCount"/>).</summary>
    public UInt128 Count => _count;

    /// <summary>True when <paramref name="address"/> is one this prefix lends.</summary>
    public bool Lends(IPAddress address) => PrefixAddresses.IsUsable(Network, address);

    /// <summary>
    /// The address for a new connection to the destination of <paramref name="entry"/> (null:
    /// nothing is held there, so any address has its whole capacity): the first of the next
    /// <see cref="Probes"/> addresses with nothing on its tuple, else the one of them with most
    /// room. When all of those are full, the walk goes on until an address with room is found; it
    /// ends after at most one address more than the destination has ledgers (only an address with
    /// a ledger can be full), or after the whole prefix. Null when every address is full.
    /// </summary>
    /// <param name="entry">What the budget holds for the destination, or null.</param>
    /// <param name="capacity">The ports of a tuple with nothing on it.</param>
    /// <param name="remaining">Ports free on the chosen address's tuple.</param>
    public IPAddress? Pick(DestinationTuples? entry, int capacity, out int remaining)
    {
        var first = Interlocked.Increment(ref _next) - 1;
        var candidate = AddressAt(first);
        if (entry is null || capacity <= 0)
        {
            remaining = capacity;
            return capacity > 0 ? candidate : null;
        }

        IPAddress? best = null;
        remaining = 0;
        for (var i = 0; i < Probes; i++)
        {
            if (i > 0)
            {
                candidate = AddressAt(Interlocked.Increment(ref _next) - 1);
            }

            var room = entry.RemainingFor(candidate);
            if (room >= capacity)
            {
                remaining = room;
                return candidate;
            }

            if (room > remaining)
            {
                (best, remaining) = (candidate, room);
            }

            if ((UInt128)(i + 1) >= _count)
            {
                break; // a prefix of fewer addresses than probes: each was looked at
            }
        }

        return best ?? Walk(entry, Volatile.Read(ref _next), out remaining);
    }

    /// <summary>The first address from <paramref name="from"/> on with room, looking at no more addresses than can be full; null when none has.</summary>
    private IPAddress? Walk(DestinationTuples entry, ulong from, out int remaining)
    {
        var ledgers = (UInt128)entry.Ledgers.Count;
        var steps = ledgers + 1 < _count ? ledgers + 1 : _count;
        for (UInt128 i = 0; i < steps; i++)
        {
            var candidate = AddressAt(from + (ulong)i);
            remaining = entry.RemainingFor(candidate);
            if (remaining > 0)
            {
                return candidate;
            }
        }

        remaining = 0;
        return null;
    }

    /// <summary>
    /// True when some address of the prefix has room to the destination of <paramref name="entry"/>:
    /// fewer of its addresses are full there than it has. One pass over the destination's ledgers.
    /// </summary>
    public bool HasRoom(DestinationTuples? entry)
    {
        if (entry is null)
        {
            return true;
        }

        UInt128 full = 0;
        foreach (var ledger in entry.Ledgers)
        {
            if (ledger.Remaining <= 0 && Lends(ledger.Tuple.Source))
            {
                full++;
            }
        }

        return full < _count;
    }

    /// <summary>The ledgers of this prefix's addresses at the destination of <paramref name="entry"/>: the addresses in use there.</summary>
    public IEnumerable<TupleLedger> InUse(DestinationTuples? entry)
    {
        if (entry is null)
        {
            yield break;
        }

        foreach (var ledger in entry.Ledgers)
        {
            if (!ledger.IsRetired && Lends(ledger.Tuple.Source))
            {
                yield return ledger;
            }
        }
    }

    private IPAddress AddressAt(ulong counter) => PrefixAddresses.AddressAt(Network, counter % _count);

    public override string ToString() => $"{Network} (prefix)";
}
