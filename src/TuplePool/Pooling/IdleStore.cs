#if NET9_0_OR_GREATER
using Gate = System.Threading.Lock;
#else
using Gate = object;
#endif

namespace TuplePool.Pooling;

/// <summary>
/// The idle connections of one destination: most recently returned first, at most
/// <c>capacity</c> in all.
/// </summary>
/// <remarks>
/// Split into one stripe per processor (up to the capacity) so two threads lending and returning
/// at once do not fight over one cache line: a thread uses the stripe of the processor it runs
/// on, and only when that stripe is empty (or full) walks the others. A stripe's newest
/// connection sits in a slot taken and filled with one atomic instruction; older ones wait in a
/// small stack under the stripe's lock. A lend plus a return thus costs two atomics here, the
/// same as an object pool's Get and Return.
/// </remarks>
internal sealed class IdleStore
{
    private readonly Stripe[] _stripes;

    public IdleStore(int capacity)
    {
        var stripeCount = Math.Max(1, Math.Min(Environment.ProcessorCount, capacity));
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
    /// connection that no longer fits when the store is full — the oldest one displaced, or
    /// this one — for the caller to close; null when everything fit.
    /// </summary>
    public PooledConnection? Push(PooledConnection connection)
    {
        var stripes = _stripes;
        var start = StripeIndex(stripes.Length);
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

    private static int StripeIndex(int stripeCount)
        => stripeCount == 1 ? 0 : Thread.GetCurrentProcessorId() % stripeCount;

    /// <summary>
    /// One processor's idle connections: a single "most recent" slot taken and filled with one
    /// atomic instruction each (the common case: one caller lends and returns in turn, as cheap
    /// as an object pool's fast item), behind it a small array stack under a lock for the rest.
    /// The slot always holds the newest return: a return swaps itself in and pushes the one it
    /// displaced onto the stack, so the order stays most recently used first.
    /// </summary>
    private sealed class Stripe
    {
        private readonly Gate _gate = new();
        private readonly PooledConnection?[] _items;
        private PooledConnection? _fast;
        private int _count;

        public Stripe(int capacity) => _items = new PooledConnection?[Math.Max(0, capacity - 1)];

        public int Count => Volatile.Read(ref _count) + (Volatile.Read(ref _fast) is null ? 0 : 1);

        /// <summary>Stores <paramref name="connection"/> as the newest; returns an older one that no longer fits, or null.</summary>
        public PooledConnection? PushNewest(PooledConnection connection)
        {
            var displaced = Interlocked.Exchange(ref _fast, connection);
            return displaced is null || TryPushStack(displaced) ? null : displaced;
        }

        /// <summary>Stores <paramref name="connection"/> behind the newest; false when the stripe is full.</summary>
        public bool TryPushBehind(PooledConnection connection)
            => (Volatile.Read(ref _fast) is null && Interlocked.CompareExchange(ref _fast, connection, null) is null)
                || TryPushStack(connection);

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
                var count = _count - 1;
                var items = _items;
                if ((uint)count >= (uint)items.Length)
                {
                    connection = null;
                    return false;
                }

                connection = items[count];
                items[count] = null;
                _count = count;
                return true;
            }
        }

        public void RemoveWhere<TState>(Func<PooledConnection, TState, bool> shouldRemove, TState state, List<PooledConnection> removed)
        {
            var fast = Volatile.Read(ref _fast);
            if (fast is not null && shouldRemove(fast, state) && Interlocked.CompareExchange(ref _fast, null, fast) == fast)
            {
                removed.Add(fast);
            }

            lock (_gate)
            {
                var kept = 0;
                for (var i = 0; i < _count; i++)
                {
                    var item = _items[i]!;
                    if (shouldRemove(item, state))
                    {
                        removed.Add(item);
                    }
                    else
                    {
                        _items[kept++] = item;
                    }
                }

                Array.Clear(_items, kept, _count - kept);
                _count = kept;
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
                    visit(_items[i]!, state);
                }
            }
        }

        private bool TryPushStack(PooledConnection connection)
        {
            lock (_gate)
            {
                var count = _count;
                var items = _items;
                if ((uint)count >= (uint)items.Length)
                {
                    return false;
                }

                items[count] = connection;
                Volatile.Write(ref _count, count + 1);
                return true;
            }
        }
    }
}
