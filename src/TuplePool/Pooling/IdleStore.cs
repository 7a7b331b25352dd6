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
/// Split into one stack per processor (up to the capacity) so two threads lending and returning
/// at once do not fight over one lock or one cache line: a thread uses the stripe of the
/// processor it runs on, and only when that stripe is empty (or full) walks the others. Each
/// stripe is a tiny array stack under its own uncontended lock, which costs less than the
/// interlocked operations a lock-free stack needs and keeps MRU order exact within a stripe.
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

    public bool TryPush(PooledConnection connection)
    {
        var stripes = _stripes;
        var start = StripeIndex(stripes.Length);
        for (var i = 0; i < stripes.Length; i++)
        {
            var index = start + i;
            if (index >= stripes.Length)
            {
                index -= stripes.Length;
            }

            if (stripes[index].TryPush(connection))
            {
                return true;
            }
        }

        return false;
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

    private sealed class Stripe(int capacity)
    {
        private readonly Gate _gate = new();
        private readonly PooledConnection?[] _items = new PooledConnection?[capacity];
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public bool TryPush(PooledConnection connection)
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
                _count = count + 1;
                return true;
            }
        }

        public bool TryPop(out PooledConnection? connection)
        {
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

        public int RemoveWhere<TState>(Func<PooledConnection, TState, bool> shouldRemove, TState state, List<PooledConnection> removed)
        {
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

                var taken = _count - kept;
                Array.Clear(_items, kept, taken);
                _count = kept;
                return taken;
            }
        }

        public void ForEach<TState>(Action<PooledConnection, TState> visit, TState state)
        {
            lock (_gate)
            {
                for (var i = 0; i < _count; i++)
                {
                    visit(_items[i]!, state);
                }
            }
        }
    }
}
