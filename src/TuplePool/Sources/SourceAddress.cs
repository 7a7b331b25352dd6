using System.Net;

namespace TuplePool.Sources;

/// <summary>
/// One configured source address (or the implicit "kernel chooses" one), or one source prefix
/// whose addresses <see cref="Prefix"/> hands out, and its health: a prefix is quarantined, and
/// left out of an open's next attempt, as one source.
/// </summary>
internal sealed class SourceAddress(IPAddress address, bool isImplicit)
{
    private long _quarantinedUntil;

    /// <summary>A source prefix: its <see cref="Address"/> is the network's own, never bound.</summary>
    public SourceAddress(PrefixSource prefix)
        : this(prefix.Network.BaseAddress, isImplicit: false)
    {
        Prefix = prefix;
    }

    /// <summary>The address bound; for a prefix the network's own address, which stands for it and is never bound.</summary>
    public IPAddress Address { get; } = address;

    /// <summary>The prefix whose addresses this source lends, or null for a single address.</summary>
    public PrefixSource? Prefix { get; }

    /// <summary>True for the single "let the kernel choose" source used when none are configured.</summary>
    public bool IsImplicit { get; } = isImplicit;

    public bool IsQuarantined(long now) => Volatile.Read(ref _quarantinedUntil) > now;

    /// <summary>When the current (or last, not yet noticed) quarantine runs out; 0 when none was noticed as running.</summary>
    public long QuarantinedUntil => Volatile.Read(ref _quarantinedUntil);

    /// <summary>True exactly once after a quarantine has run out (the caller logs the source as back).</summary>
    public bool TryEndQuarantine(long now)
    {
        var until = Volatile.Read(ref _quarantinedUntil);
        return until != 0 && until <= now && Interlocked.CompareExchange(ref _quarantinedUntil, 0, until) == until;
    }

    /// <summary>Takes the source out until <paramref name="until"/>; false when it already was out.</summary>
    public bool Quarantine(long now, long until)
    {
        var previous = Interlocked.Exchange(ref _quarantinedUntil, until);
        return previous <= now;
    }

    public override string ToString() => Prefix?.ToString() ?? (IsImplicit ? $"{Address} (kernel chooses)" : Address.ToString());
}
