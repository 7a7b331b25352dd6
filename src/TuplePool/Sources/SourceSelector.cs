using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Internal;

namespace TuplePool.Sources;

/// <summary>
/// Chooses the source address for a new connection: only sources of the destination's address
/// family, healthy ones, the one with most remaining budget first (or in turn), and reserves a
/// port on the chosen tuple.
/// </summary>
internal sealed class SourceSelector
{
    private readonly SourceAddress[] _ipv4;
    private readonly SourceAddress[] _ipv6;
    private readonly TupleBudget _budget;
    private readonly TimeProvider _timeProvider;
    private readonly SourceSelectionMode _mode;
    private readonly long _quarantineTicks;
    private int _roundRobin;

    /// <summary>Raised once when a quarantined source is found usable again.</summary>
    public event Action<SourceAddress>? SourceRestored;

    public SourceSelector(IList<IPAddress> configured, SourceSelectionMode mode, TimeSpan quarantine, TupleBudget budget, TimeProvider timeProvider)
    {
        _budget = budget;
        _timeProvider = timeProvider;
        _mode = mode;
        _quarantineTicks = Timestamps.ToTicks(quarantine, timeProvider);
        if (configured.Count == 0)
        {
            _ipv4 = [new SourceAddress(IPAddress.Any, isImplicit: true)];
            _ipv6 = [new SourceAddress(IPAddress.IPv6Any, isImplicit: true)];
        }
        else
        {
            _ipv4 = configured.Where(a => a.AddressFamily == AddressFamily.InterNetwork).Select(a => new SourceAddress(a, false)).ToArray();
            _ipv6 = configured.Where(a => a.AddressFamily == AddressFamily.InterNetworkV6).Select(a => new SourceAddress(a, false)).ToArray();
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
                if (IsUsable(candidate, exclude, now) && _budget.TryCharge(new ConnectionTuple(candidate.Address, destination)) is { } charge)
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
        Span<int> remaining = sources.Count <= 64 ? stackalloc int[sources.Count] : new int[sources.Count];
        for (var i = 0; i < sources.Count; i++)
        {
            var candidate = sources[i];
            if (!IsUsable(candidate, exclude, now))
            {
                remaining[i] = -1;
                continue;
            }

            remaining[i] = entry.RemainingFor(candidate.Address);
            if (remaining[i] >= capacity)
            {
                // Untouched: nothing can beat it. Fill in the rest lazily only if this charge fails.
                if (_budget.TryCharge(new ConnectionTuple(candidate.Address, destination)) is { } fresh)
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
            if (_budget.TryCharge(new ConnectionTuple(chosen.Address, destination)) is { } charge)
            {
                source = chosen;
                return charge;
            }

            remaining[best] = -1;
        }

        return null;
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
