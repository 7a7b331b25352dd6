using System.Net.Sockets;
using System.Collections.Concurrent;
using System.Net;
using System.Runtime.CompilerServices;

namespace TuplePool.Pooling;

/// <summary>
/// Every destination of one pool, created on first use from the caller's endpoint (normalised,
/// checked and copied, see <see cref="DestinationKeys"/>), dropped by the reaper once it has stood
/// empty for a while (<see cref="DestinationPool.TryRetire"/>). It owns what works across all of
/// them: the <see cref="IdleReaper"/> that sweeps them and the <see cref="SnapshotBuilder"/> that
/// reads them.
/// </summary>
internal sealed class DestinationRegistry : IDestinationOwner
{
    /// <summary>The most lookups one <see cref="GetSlow"/> makes: each past the first follows the removal of a retired destination.</summary>
    private const int MaxLookups = 8;

    private readonly ConcurrentDictionary<EndPoint, DestinationPool> _destinations = new();
    private readonly ConcurrentDictionary<DestinationPool, byte> _withConnections = new(ReferenceEqualityComparer.Instance);
    private readonly PoolContext _context;
    private readonly Func<AddressFamily, bool> _hasSourceFor; // one delegate for every destination's resolver, not one each
    private DestinationPool? _lastUsed;
    private int _count;
    private volatile bool _disposed;

    public DestinationRegistry(PoolContext context)
    {
        _context = context;
        _hasSourceFor = context.Tuples.HasSourceFor;
        Reaper = new IdleReaper(this, context.Tuples.Budget, context.Settings);
        Snapshots = new SnapshotBuilder(this, context.Tuples, context.Errors.Refusals);
    }

    /// <summary>The pool's settings.</summary>
    public PoolSettings Settings => _context.Settings;

    /// <summary>The timer that sweeps every destination; started when the first one is added.</summary>
    public IdleReaper Reaper { get; }

    /// <summary>The public views of what the destinations hold.</summary>
    public SnapshotBuilder Snapshots { get; }

    public bool IsDisposed => _disposed;

    public int Count => Volatile.Read(ref _count);

    /// <summary>Callers waiting in line, over every destination.</summary>
    public int PendingAcquires => _context.Waiting.Value;

    /// <summary>Every destination the pool knows, walked without locking the table (<c>Values</c> would copy it under every lock).</summary>
    public IEnumerable<DestinationPool> All
    {
        get
        {
            foreach (var pair in _destinations)
            {
                yield return pair.Value;
            }
        }
    }

    /// <summary>
    /// The destinations with a connection open or opening: a snapshot counts idle connections
    /// there, and the reaper sweeps there, not in every destination the pool knows (a crawl
    /// knows many, most with nothing). Walked without locking the table.
    /// </summary>
    public IEnumerable<DestinationPool> WithConnections
    {
        get
        {
            foreach (var pair in _withConnections)
            {
                yield return pair.Key;
            }
        }
    }

    /// <inheritdoc />
    public void FirstOpened(DestinationPool destination) => _withConnections.TryAdd(destination, 0);

    /// <inheritdoc />
    public void LastClosed(DestinationPool destination)
    {
        _withConnections.TryRemove(destination, out _);

        // A first open may have come between the last close's count and the removal: it added
        // first and was then removed. Whichever of the two looks last sees the true count.
        if (destination.OpenCount > 0)
        {
            _withConnections.TryAdd(destination, 0);
        }
    }

    /// <summary>The destination for <paramref name="destination"/>, created when new.</summary>
    /// <exception cref="ArgumentException">Not a destination a TCP connection can be made to.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public DestinationPool Get(EndPoint destination)
    {
        // Callers usually ask for one destination again and again: skip the dictionary then.
        // Compared by value, not reference: the caller may have changed its IPEndPoint since.
        var last = _lastUsed;
        return last is not null && last.Is(destination) ? last : GetSlow(destination);
    }

    /// <summary>The destination with <paramref name="key"/> when there is one (not retired).</summary>
    public DestinationPool? Find(EndPoint key)
        => _destinations.TryGetValue(DestinationKeys.Normalize(key), out var pool) && !pool.IsRetired ? pool : null;

    public BudgetUsage UsageFor(IReadOnlyList<IPEndPoint> addresses) => new(Snapshots.UsageFor(addresses), Snapshots.NatUsageFor(addresses));

    public ValueTask<SocketLease> AcquireAgainAsync(DestinationPool retired, TimeSpan timeout, AcquirePurpose purpose, CancellationToken cancellationToken)
        => GetSlow(retired.Key).AcquireAsync(timeout, purpose, cancellationToken);

    /// <summary>The live destination that replaces <paramref name="retired"/> (created when none yet).</summary>
    public DestinationPool Successor(DestinationPool retired) => GetSlow(retired.Key);

    /// <summary>Retires and removes destinations that have stood empty long enough; returns how many went.</summary>
    public int EvictEmpty(long now)
    {
        var evicted = 0;
        foreach (var entry in _destinations)
        {
            if (entry.Value.TryRetire(now) && Remove(entry))
            {
                evicted++;
            }
        }

        return evicted;
    }

    public void Dispose()
    {
        _disposed = true;
        Reaper.Dispose();
        foreach (var entry in _destinations)
        {
            entry.Value.Dispose();
        }
    }

    /// <summary>
    /// The dictionary's side of <see cref="Get"/>. The caller's endpoint is turned into the
    /// pool's own kind of key before the first lookup (<see cref="DestinationKeys.Normalize"/>), so
    /// every key the dictionary compares has the runtime's Equals and GetHashCode: a lookup cannot
    /// miss a destination that adding then finds. Losing the race to add is no retry (the winner
    /// serves); only a destination retired between the lookup and now is a reason to look again,
    /// and a fresh one cannot be retired before it has stood empty for <see cref="PoolSettings.EvictAfter"/>,
    /// so the loop is bounded by <see cref="MaxLookups"/> all the same.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private DestinationPool GetSlow(EndPoint destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var key = DestinationKeys.Normalize(destination);
        for (var lookup = 1; ; lookup++)
        {
            if (!_destinations.TryGetValue(key, out var pool))
            {
                DestinationKeys.Validate(key, _context.Settings.TimeProvider);
                var created = Create(DestinationKeys.Copy(key));
                pool = _destinations.GetOrAdd(created.Key, created);
                if (ReferenceEquals(pool, created))
                {
                    Interlocked.Increment(ref _count);
                    Reaper.EnsureRunning();
                }
                else
                {
                    created.Dispose(); // lost the race; the winner is in the dictionary
                }
            }

            if (pool.IsRetired)
            {
                // Evicted a moment ago and not yet removed: remove it and make a fresh one.
                Remove(new KeyValuePair<EndPoint, DestinationPool>(pool.Key, pool));
                if (lookup == MaxLookups)
                {
                    throw new InvalidOperationException($"The destination {key} was retired {lookup} times in a row while being looked up; the reaper and this acquire disagree about it.");
                }

                continue;
            }

            if (_disposed)
            {
                // Dispose may have walked the dictionary before this destination was added.
                pool.Dispose();
                ThrowHelper.ThrowPoolDisposed();
            }

            _lastUsed = pool;
            return pool;
        }
    }

    private bool Remove(KeyValuePair<EndPoint, DestinationPool> entry)
    {
        if (!_destinations.TryRemove(entry))
        {
            return false;
        }

        Interlocked.Decrement(ref _count);
        Interlocked.CompareExchange(ref _lastUsed, null, entry.Value);
        return true;
    }

    private DestinationPool Create(EndPoint key)
    {
        var settings = _context.Settings;
        var resolver = new AddressResolver(
            key is IPEndPoint ip ? DestinationKeys.Copy(ip) : key, // the resolver's address is a ledger key: its own copy
            _hasSourceFor,
            settings.TimeProvider,
            settings.Options.DnsRefreshInterval,
            settings.Options.ConnectTimeout,
            _context.Logger,
            _context.DnsLookup);

        // The user's pipeline callback gets a copy too: it must not be able to change the key.
        return new DestinationPool(key, _context, this, _context.Opener.CreatePipeline(DestinationKeys.Copy(key)), resolver);
    }
}
