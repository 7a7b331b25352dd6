#if NET9_0_OR_GREATER
using Gate = System.Threading.Lock;
#else
using Gate = object;
#endif

namespace TuplePool.Pooling;

/// <summary>
/// The idle connections of one destination: most recently returned first, at most
/// <c>capacity</c> in all; when full, the oldest goes.
/// </summary>
/// <remarks>
/// Split into one stripe per processor (up to the capacity) so two threads lending and returning
/// at once do not fight over one cache line: a thread uses the stripe of the processor it runs
/// on, and only when that stripe is empty (or full) walks the others. A stripe's newest
/// connection sits in a slot taken and filled with one atomic instruction; older ones wait in a
/// small ring under the stripe's lock. A lend plus a return thus costs two atomics here, the
/// same as an object pool's Get and Return.
/// </remarks>
internal sealed class IdleStore
{
    private readonly Stripe[] _stripes;

    public IdleStore(int capacity)
        : this(capacity, Environment.ProcessorCount)
    {
    }

    /// <summary>For tests: a given number of stripes (at most one per connection of capacity).</summary>
    internal IdleStore(int capacity, int stripes)
    {
        var stripeCount = Math.Max(1, Math.Min(stripes, capacity));
        _stripes = new Stripe[stripeCount];
        for (var i = 0; i < stripeCount; i++)
        {
            // Spread the capacity exactly: the first (capacity % n) stripes hold one more.
            _stripes[i] = new Stripe((capacity / stripeCount) + (i < capacity % stripeCount ? 1 : 0));
        }
    }

    /// <summary>Idle connections right now (exact when no operation is in flight).</summary>
    /// <remarks>Summed from the stripes: a shared counter would put every lend and return back on one cache line.</remarks>
    public int Count
    {
        get
        {
            var total = 0;
            foreach (var stripe in _stripes)
            {
                total += stripe.Count;
            }

            return total;
        }
    }

    /// <summary>
    /// Stores a returned connection as the newest of its processor's stripe. Returns the
    /// connection that no longer fits when the store is full — the oldest of that stripe, unless
    /// another stripe has room for it — for the caller to close; null when everything fit.
    /// </summary>
    public PooledConnection? Push(PooledConnection connection)
    {
        var stripes = _stripes;
        var start = HomeStripe(connection, stripes.Length);
        var leftover = stripes[start].PushNewest(connection);
        for (var i = 1; leftover is not null && i < stripes.Length; i++)
        {
            var index = start + i;
            if (index >= stripes.Length)
            {
                index -= stripes.Length;
            }

            if (stripes[index].TryPushBehind(leftover))
            {
                leftover = null;
            }
        }

        return leftover;
    }

    public bool TryPop(out PooledConnection? connection)
    {
        var stripes = _stripes;
        var start = StripeIndex(stripes.Length);
        if (stripes[start].TryPop(out connection))
        {
            connection!.IdleStripe = start;
            return true;
        }

        for (var i = 1; i < stripes.Length; i++)
        {
            var index = start + i;
            if (index >= stripes.Length)
            {
                index -= stripes.Length;
            }

            if (stripes[index].Count > 0 && stripes[index].TryPop(out connection))
            {
                connection!.IdleStripe = start;
                return true;
            }
        }

        return false;
    }

    /// <summary>Takes out every connection <paramref name="shouldRemove"/> selects (oldest first) into <paramref name="removed"/>.</summary>
    public void RemoveWhere<TState>(Func<PooledConnection, TState, bool> shouldRemove, TState state, List<PooledConnection> removed)
    {
        foreach (var stripe in _stripes)
        {
            stripe.RemoveWhere(shouldRemove, state, removed);
        }
    }

    /// <summary>Calls <paramref name="visit"/> for each idle connection under its stripe's lock.</summary>
    public void ForEach<TState>(Action<PooledConnection, TState> visit, TState state)
    {
        foreach (var stripe in _stripes)
        {
            stripe.ForEach(visit, state);
        }
    }

    /// <summary>
    /// The stripe a returned connection goes to: the one of the processor its borrower ran on
    /// when it took the connection (read once per lend and return, not twice: the processor
    /// number is a call into the runtime), or the current processor's for a new connection.
    /// </summary>
    private static int HomeStripe(PooledConnection connection, int stripeCount)
    {
        var home = connection.IdleStripe;
        return (uint)home < (uint)stripeCount ? home : StripeIndex(stripeCount);
    }

    private static int StripeIndex(int stripeCount)
        => stripeCount == 1 ? 0 : Thread.GetCurrentProcessorId() % stripeCount;

    /// <summary>
    /// One processor's idle connections: a single "most recent" slot taken and filled with one
    /// atomic instruction each (the common case: one caller lends and returns in turn, as cheap
    /// as an object pool's fast item), behind it a small ring of older ones under a lock, oldest
    /// at its head. The slot always holds the newest return: a return swaps itself in and moves
    /// the one it displaced to the ring's newest end, so lending takes the most recently used
    /// and a full stripe gives up its oldest.
    /// </summary>
    private sealed class Stripe
    {
        private readonly Gate _gate = new();
        private readonly PooledConnection?[] _items;
        private PooledConnection? _fast;
        private int _head;
        private int _count;

        public Stripe(int capacity) => _items = new PooledConnection?[Math.Max(0, capacity - 1)];

        public int Count => Volatile.Read(ref _count) + (Volatile.Read(ref _fast) is null ? 0 : 1);

        /// <summary>Stores <paramref name="connection"/> as the newest; returns the oldest when that no longer fits, or null.</summary>
        public PooledConnection? PushNewest(PooledConnection connection)
        {
            var displaced = Interlocked.Exchange(ref _fast, connection);
            if (displaced is null)
            {
                return null;
            }

            if (_items.Length == 0)
            {
                return displaced; // the slot is the whole stripe: what it held is the oldest
            }

            lock (_gate)
            {
                var items = _items;
                if (_count < items.Length)
                {
                    items[(_head + _count) % items.Length] = displaced;
                    Volatile.Write(ref _count, _count + 1);
                    return null;
                }

                // Full: the oldest goes, the displaced one becomes the newest of the ring.
                var oldest = items[_head];
                items[_head] = displaced;
                _head = (_head + 1) % items.Length;
                return oldest;
            }
        }

        /// <summary>
        /// Stores <paramref name="connection"/>, the oldest another stripe gave up, as this
        /// stripe's oldest — or in the empty slot when the ring is full; false when both are full.
        /// </summary>
        public bool TryPushBehind(PooledConnection connection)
        {
            if (_items.Length > 0)
            {
                lock (_gate)
                {
                    var items = _items;
                    if (_count < items.Length)
                    {
                        _head = (_head + items.Length - 1) % items.Length;
                        items[_head] = connection;
                        Volatile.Write(ref _count, _count + 1);
                        return true;
                    }
                }
            }

            return Volatile.Read(ref _fast) is null && Interlocked.CompareExchange(ref _fast, connection, null) is null;
        }

        public bool TryPop(out PooledConnection? connection)
        {
            var fast = Volatile.Read(ref _fast);
            if (fast is not null && Interlocked.CompareExchange(ref _fast, null, fast) == fast)
            {
                connection = fast;
                return true;
            }

            if (Volatile.Read(ref _count) == 0)
            {
                connection = null;
                return false;
            }

            lock (_gate)
            {
                if (_count == 0)
                {
                    connection = null;
                    return false;
                }

                // The newest of the ring: its tail.
                var items = _items;
                var tail = (_head + _count - 1) % items.Length;
                connection = items[tail];
                items[tail] = null;
                Volatile.Write(ref _count, _count - 1);
                return true;
            }
        }

        public void RemoveWhere<TState>(Func<PooledConnection, TState, bool> shouldRemove, TState state, List<PooledConnection> removed)
        {
            lock (_gate)
            {
                // Oldest first, closing the gaps towards the head: a survivor moves to a slot
                // already read, never over one still to read.
                var items = _items;
                var kept = 0;
                for (var i = 0; i < _count; i++)
                {
                    var index = (_head + i) % items.Length;
                    var item = items[index]!;
                    items[index] = null;
                    if (shouldRemove(item, state))
                    {
                        removed.Add(item);
                    }
                    else
                    {
                        items[(_head + kept++) % items.Length] = item;
                    }
                }

                Volatile.Write(ref _count, kept);
            }

            var fast = Volatile.Read(ref _fast);
            if (fast is not null && shouldRemove(fast, state) && Interlocked.CompareExchange(ref _fast, null, fast) == fast)
            {
                removed.Add(fast);
            }
        }

        public void ForEach<TState>(Action<PooledConnection, TState> visit, TState state)
        {
            if (Volatile.Read(ref _fast) is { } fast)
            {
                visit(fast, state);
            }

            lock (_gate)
            {
                for (var i = 0; i < _count; i++)
                {
                    visit(_items[(_head + i) % _items.Length]!, state);
                }
            }
        }
    }
}
