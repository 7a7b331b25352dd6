using System.Collections.Concurrent;
using System.Net;
using TuplePool.Internal;

namespace TuplePool.Connecting;

/// <summary>
/// The addresses of several-address destinations that failed or never answered lately, so the
/// next race starts with one that works (<see cref="AddressRace.Order(IReadOnlyList{IPEndPoint}, AddressHistory?, long, out bool)"/>). RFC 8305 §4 asks a
/// client that keeps such state to sort by it: RFC 6724's first rule is "avoid unusable
/// destinations", and an address that just failed is one. Without it, a name whose IPv6 address
/// drops SYNs makes every new connection wait the Connection Attempt Delay (250 ms by default)
/// before its IPv4 address is tried, and a name with a dead address and Happy Eyeballs off makes
/// every new connection wait out ConnectTimeout first.
/// </summary>
/// <remarks>
/// <para><b>How long.</b> An address is remembered for <see cref="RememberFor"/>, 10 minutes. A
/// remembered address is only put last, never left out, so remembering it too long costs little:
/// it is still tried when the ones before it fail or stay silent past the delay. Forgetting it too
/// soon costs one delay each time it is forgotten: after 10 minutes one new connection pays it to
/// find out whether the address works again (and a success wipes the record at once). So a dead
/// address costs one delay per 10 minutes instead of one per connection, and a repaired one is
/// back within 10 minutes. The pool does not watch for network changes, which would be the other
/// reason to forget.</para>
/// <para><b>What counts.</b> An attempt that failed (refused, unreachable, timed out), and one that
/// was still unanswered, at least one Connection Attempt Delay after it started, when another
/// address won. Not an address that had no free port (that is the budget, not the address), nor
/// attempts cut short because the caller gave up.</para>
/// <para><b>Bounded.</b> Per pool, keyed by address (an address's reachability is the same for
/// every name that resolves to it), at most <see cref="MaxEntries"/> entries; when full, expired
/// ones are dropped first and a new one is not recorded if none has expired.</para>
/// </remarks>
internal sealed class AddressHistory
{
    /// <summary>How long a failed or silent address stays at the back of the order.</summary>
    public static readonly TimeSpan RememberFor = TimeSpan.FromMinutes(10);

    /// <summary>The most addresses remembered at once.</summary>
    public const int MaxEntries = 4096;

    private readonly ConcurrentDictionary<IPEndPoint, long> _failedUntil = new();
    private readonly TimeProvider _timeProvider;
    private readonly long _rememberTicks;

    public AddressHistory(TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        _rememberTicks = Timestamps.ToTicks(RememberFor, timeProvider);
    }

    public int Count => _failedUntil.Count;

    /// <summary>True while <paramref name="address"/> failed or went unanswered within <see cref="RememberFor"/>.</summary>
    public bool IsRemembered(IPEndPoint address, long now)
    {
        if (_failedUntil.IsEmpty || !_failedUntil.TryGetValue(address, out var until))
        {
            return false;
        }

        if (now < until)
        {
            return true;
        }

        _failedUntil.TryRemove(new KeyValuePair<IPEndPoint, long>(address, until));
        return false;
    }

    /// <summary>Remembers that <paramref name="address"/> failed or stayed silent.</summary>
    /// <param name="address">One of the destination's resolved addresses (the pool's own object, never changed).</param>
    public void Failed(IPEndPoint address)
    {
        var now = _timeProvider.GetTimestamp();
        if (_failedUntil.Count >= MaxEntries && !_failedUntil.ContainsKey(address) && !DropExpired(now))
        {
            return; // full of live records: this one is not worth a sweep per failure
        }

        _failedUntil[address] = now + _rememberTicks;
    }

    /// <summary>Forgets <paramref name="address"/>: it connected.</summary>
    public void Worked(IPEndPoint address)
    {
        if (!_failedUntil.IsEmpty)
        {
            _failedUntil.TryRemove(address, out _);
        }
    }

    /// <summary>Drops every expired record; true when room was made.</summary>
    private bool DropExpired(long now)
    {
        var dropped = false;
        foreach (var entry in _failedUntil)
        {
            if (now >= entry.Value && _failedUntil.TryRemove(entry))
            {
                dropped = true;
            }
        }

        return dropped;
    }
}
