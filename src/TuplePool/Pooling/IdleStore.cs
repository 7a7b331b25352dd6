#if NET9_0_OR_GREATER
using Gate = System.Threading.Lock;
#else
using Gate = object;
#endif
using System.Runtime.CompilerServices;

namespace TuplePool.Pooling;

/// <summary>
/// The idle connections of one destination: most recently returned first, at most
/// <c>capacity</c> in all; when full, the oldest goes. Its storage follows use: nothing is
/// allocated before the first connection comes back, and each stripe's ring grows as
/// connections pile up in it, never past its share of the capacity.
/// </summary>
/// <remarks>
/// <para>Split into stripes (one per processor, up to the capacity) so two threads lending and
/// returning at once do not fight over one cache line: a thread uses the stripe its own number
/// points to, and only when that stripe is empty (or full) walks the others. Stripes are used
/// only once a lend finds the first one's resident lent already; until then every thread
/// uses stripe 0, and the hot path reads no thread-local state (<see cref="StripeIndex"/>).</para>
/// <para><b>The resident.</b> A stripe's newest connection stays in its slot while it is lent
/// (its "resident"); whether it can be taken is its own state (<see cref="PooledConnection"/>:
/// held, leased or idle), changed with one compare-and-swap. Lending the resident is that one
/// instruction (idle to leased), and so is ending its lease (leased to idle, which is also what
/// makes two copies disposed at once return it once): a lend plus a return costs two atomic
/// instructions in all, the same as an object pool's Get and Return, where taking a connection
/// out of a slot and putting it back would cost two more besides the lease's own.</para>
/// <para>The rules that keep that sound: only a connection's owner (who took it out of the idle
/// state, or made it) changes a held one; the slot changes from empty to a connection with a
/// compare-and-swap, and in every other way only under the stripe's lock, which the lending and
/// returning of the resident never take. The ring behind the slot holds only held connections
/// and is read and written under the lock.</para>
/// <para>The one race the lock does not cover: a resident's lease ends (leased to idle, lock
/// free) while a pusher whose ring is full, or the reaper, takes the leased resident out of its
/// slot. Both sides write first and look second, each with a full fence between: the returner
/// sets the state and then checks that the slot still holds it; the other empties or swaps the
/// slot and then checks the state. Whoever sees the other's write takes the connection back
/// from idle to held (a compare-and-swap, so exactly one of them, or a lender, gets it) and
/// stores it again, so an idle connection is never left outside every slot and ring. The
/// reaper takes leased residents out on each sweep so the slot does not keep a lease that was
/// never disposed alive for the garbage collector (<see cref="OpenConnections"/>).</para>
/// </remarks>
internal sealed class IdleStore
{
    [ThreadStatic]
    private static uint t_spread;

    private static uint s_threads;

    private readonly int _capacity;
    private readonly int _stripeCount;
    private Stripe[]? _stripes;
    private bool _striped;

    public IdleStore(int capacity)
        : this(capacity, Environment.ProcessorCount)
    {
    }

    /// <summary>For tests: a given number of stripes (at most one per connection of capacity).</summary>
    internal IdleStore(int capacity, int stripes)
    {
        _capacity = capacity;
        _stripeCount = Math.Max(1, Math.Min(stripes, capacity));
    }

    /// <summary>Idle connections right now (exact when no operation is in flight).</summary>
    /// <remarks>Summed from the stripes: a shared counter would put every lend and return back on one cache line.</remarks>
    public int Count
    {
        get
        {
            var total = 0;
            foreach (var stripe in Volatile.Read(ref _stripes) ?? [])
            {
                total += stripe.Count;
            }

            return total;
        }
    }

    /// <summary>For tests and the memory figures: true once a connection was stored (the stripes exist).</summary>
    internal bool HasStorage => Volatile.Read(ref _stripes) is not null;

    /// <summary>For tests: true once threads use stripes of their own (<see cref="StripeIndex"/>).</summary>
    internal bool IsStriped => Volatile.Read(ref _striped);

    /// <summary>
    /// The hot path: lends the idle resident of this thread's stripe, if there is one, in one
    /// compare-and-swap. Null when there is none (the caller tries <see cref="TryPop"/>).
    /// </summary>
    public PooledConnection? TryLendResident(out int token)
    {
        var stripes = Volatile.Read(ref _stripes);
        if (stripes is not null)
        {
            var resident = stripes[StripeIndex(stripes.Length)].Resident;
            if (resident is not null)
            {
                if (resident.TryLendIdle(out token))
                {
                    return resident;
                }

                // Lent to someone else, or taken under our hands: from now on each thread goes
                // to its own stripe (see StripeIndex).
                if (!_striped && stripes.Length > 1)
                {
                    Volatile.Write(ref _striped, true);
                }
            }
        }

        token = 0;
        return null;
    }

    /// <summary>
    /// Ends the lease <paramref name="token"/> of <paramref name="connection"/> and makes it idle
    /// where it is the resident: one compare-and-swap. <see cref="ReturnOutcome.NotResident"/>
    /// when it is not a resident (the lease is untouched: the caller ends it and pushes).
    /// </summary>
    public ReturnOutcome TryReturnResident(PooledConnection connection, int token)
    {
        var stripes = Volatile.Read(ref _stripes);
        var index = connection.IdleStripe;
        if (stripes is null || (uint)index >= (uint)stripes.Length)
        {
            return ReturnOutcome.NotResident;
        }

        var stripe = stripes[index];
        if (!ReferenceEquals(stripe.Resident, connection))
        {
            return ReturnOutcome.NotResident;
        }

        if (!connection.TryEndLease(token, idle: true))
        {
            return ReturnOutcome.AlreadyEnded;
        }

        // The compare-and-swap above is a full fence: this read comes after it. Should a pusher
        // or the reaper have taken it out of the slot meanwhile, take it back (unless a lender
        // or that other side already did) and store it again.
        if (!ReferenceEquals(stripe.Resident, connection) && connection.TryTakeIdle())
        {
            return ReturnOutcome.Held;
        }

        return ReturnOutcome.Idle;
    }

    /// <summary>
    /// Stores a held connection as the newest of its stripe. Returns the connection that no
    /// longer fits when the store is full — the oldest of that stripe, unless another stripe has
    /// room for it — for the caller to close; null when everything fit.
    /// </summary>
    public PooledConnection? Push(PooledConnection connection)
    {
        var stripes = EnsureStripes();
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

    /// <summary>Takes the newest idle connection (held by the caller now, to lend or close); false when there is none.</summary>
    public bool TryPop(out PooledConnection? connection)
    {
        var stripes = Volatile.Read(ref _stripes);
        if (stripes is null)
        {
            connection = null;
            return false;
        }

        var start = StripeIndex(stripes.Length);
        for (var i = 0; i < stripes.Length; i++)
        {
            var index = start + i;
            if (index >= stripes.Length)
            {
                index -= stripes.Length;
            }

            if (stripes[index].TryPop(out connection))
            {
                // Out of every slot and ring now: it comes back to the borrower's stripe, where
                // it becomes the resident and its next lends are the one-swap kind.
                connection!.IdleStripe = start;
                return true;
            }
        }

        connection = null;
        return false;
    }

    /// <summary>A held connection is being closed: it must not stay in a slot (it would keep the slot, and the socket object, for nothing).</summary>
    public void Forget(PooledConnection connection)
    {
        var stripes = Volatile.Read(ref _stripes);
        var index = connection.IdleStripe;
        if (stripes is not null && (uint)index < (uint)stripes.Length && ReferenceEquals(stripes[index].Resident, connection))
        {
            stripes[index].Forget(connection);
        }
    }

    /// <summary>
    /// For the reaper: takes leased residents out of their slots, so a lease that is never
    /// disposed is held by nothing of the pool's and the garbage collector can find it. A
    /// resident whose lease ended just then comes back held, in <paramref name="held"/>, for the
    /// caller to store again.
    /// </summary>
    public void ReleaseLeasedResidents(List<PooledConnection> held)
    {
        foreach (var stripe in Volatile.Read(ref _stripes) ?? [])
        {
            if (stripe.ReleaseLeasedResident() is { } back)
            {
                held.Add(back);
            }
        }
    }

    /// <summary>Takes out every connection <paramref name="shouldRemove"/> selects (oldest first) into <paramref name="removed"/>.</summary>
    public void RemoveWhere<TState>(Func<PooledConnection, TState, bool> shouldRemove, TState state, List<PooledConnection> removed)
    {
        foreach (var stripe in Volatile.Read(ref _stripes) ?? [])
        {
            stripe.RemoveWhere(shouldRemove, state, removed);
        }
    }

    /// <summary>Calls <paramref name="visit"/> for each idle connection (a resident without its stripe's lock, the ring under it).</summary>
    public void ForEach<TState>(Action<PooledConnection, TState> visit, TState state)
    {
        foreach (var stripe in Volatile.Read(ref _stripes) ?? [])
        {
            stripe.ForEach(visit, state);
        }
    }

    private Stripe[] EnsureStripes()
    {
        if (Volatile.Read(ref _stripes) is { } stripes)
        {
            return stripes;
        }

        var made = new Stripe[_stripeCount];
        for (var i = 0; i < made.Length; i++)
        {
            // Spread the capacity exactly: the first (capacity % n) stripes hold one more.
            made[i] = new Stripe(i, (_capacity / made.Length) + (i < _capacity % made.Length ? 1 : 0));
        }

        return Interlocked.CompareExchange(ref _stripes, made, null) ?? made;
    }

    /// <summary>
    /// The stripe a returned connection goes to: the one it was lent from (a resident's own),
    /// or the borrower's when it came from a ring, or the current thread's for a new connection.
    /// </summary>
    private int HomeStripe(PooledConnection connection, int stripeCount)
    {
        var home = connection.IdleStripe;
        return (uint)home < (uint)stripeCount ? home : StripeIndex(stripeCount);
    }

    /// <summary>
    /// The stripe this thread lends from and returns to. Until a lend finds the first stripe's
    /// resident lent already (to another thread, or to this one, still leased), every thread
    /// uses stripe 0 and the hot path reads no thread-local state; after that (for good) a
    /// thread uses the stripe its own number picks. This is how Java's <c>LongAdder</c>
    /// (<c>Striped64</c>) spreads only once there is contention: a destination that one thread
    /// at a time uses — most of a crawler's — never pays for the spread.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int StripeIndex(int stripeCount) => _striped ? ThreadStripe(stripeCount) : 0;

    /// <summary>
    /// A number of the thread's own picks the stripe: one thread-static read and a multiply,
    /// where the processor number is a call into the runtime and the system (and a division).
    /// Threads get their numbers in turn, spread over 32 bits by Fibonacci hashing, so threads
    /// working at once mostly land on different stripes; two that share one only contend.
    /// </summary>
    private static int ThreadStripe(int stripeCount)
    {
        if (stripeCount == 1)
        {
            return 0;
        }

        var spread = t_spread;
        if (spread == 0)
        {
            spread = NewSpread();
        }

        return (int)(((ulong)spread * (uint)stripeCount) >> 32);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static uint NewSpread() => t_spread = (Interlocked.Increment(ref s_threads) * 0x9E3779B9u) | 1;

    /// <summary>One stripe: the resident slot and, behind it, a ring of older held connections, oldest at its head.</summary>
    private sealed class Stripe(int index, int capacity)
    {
        private readonly Gate _gate = new();
        private readonly int _ringCapacity = Math.Max(0, capacity - 1);
        private PooledConnection? _resident;
        private PooledConnection?[] _items = [];
        private int _head;
        private int _count;

        public PooledConnection? Resident => Volatile.Read(ref _resident);

        public int Count => Volatile.Read(ref _count) + (Volatile.Read(ref _resident) is { IsIdle: true } ? 1 : 0);

        /// <summary>Stores held <paramref name="connection"/> as the newest; returns the oldest when that no longer fits, or null.</summary>
        public PooledConnection? PushNewest(PooledConnection connection)
        {
            // An empty slot takes it without the lock.
            if (Volatile.Read(ref _resident) is null && TryInstall(connection))
            {
                return null;
            }

            lock (_gate)
            {
                while (true)
                {
                    var resident = Volatile.Read(ref _resident);
                    if (resident is null)
                    {
                        if (TryInstall(connection))
                        {
                            return null;
                        }

                        continue; // another push filled it first
                    }

                    if (ReferenceEquals(resident, connection))
                    {
                        connection.MarkIdle(); // its lease ended the slow way; it is the newest where it is
                        return null;
                    }

                    if (resident.TryTakeIdle())
                    {
                        // The resident goes behind into the ring; the newcomer takes the slot.
                        Swap(resident, connection);
                        return PushRingNewest(resident);
                    }

                    if (_count < _ringCapacity || !resident.IsLeased)
                    {
                        // The resident is lent: keep it there, its return is the cheap one. Or
                        // it is in someone's hands (held), who will lend, close or store it:
                        // only its holder moves it (it may be making it idle right now).
                        return PushRingNewest(connection);
                    }

                    // Ring full and the resident lent: the slot holds nothing idle, so the
                    // newcomer takes it. Then, the race in the remarks: its lease may have
                    // ended just now; if it is idle, it is ours to store.
                    Swap(resident, connection);
                    return resident.TryTakeIdle() ? PushRingNewest(resident) : null;
                }
            }
        }

        /// <summary>
        /// Stores <paramref name="connection"/>, the oldest another stripe gave up, as this
        /// stripe's oldest — or in the empty slot when the ring is full; false when both are full.
        /// </summary>
        public bool TryPushBehind(PooledConnection connection)
        {
            lock (_gate)
            {
                if (_count < _ringCapacity)
                {
                    Grow();
                    _head = (_head + _items.Length - 1) % _items.Length;
                    _items[_head] = connection;
                    Volatile.Write(ref _count, _count + 1);
                    return true;
                }

                return Volatile.Read(ref _resident) is null && TryInstall(connection);
            }
        }

        public bool TryPop(out PooledConnection? connection)
        {
            var resident = Volatile.Read(ref _resident);
            if (resident is not null && resident.TryTakeIdle())
            {
                // Held now, and out of the slot: a held resident would keep the slot from the
                // next return for as long as its holder keeps it.
                Forget(resident);
                connection = resident;
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

        public void Forget(PooledConnection connection)
        {
            lock (_gate)
            {
                Interlocked.CompareExchange(ref _resident, null, connection);
            }
        }

        public PooledConnection? ReleaseLeasedResident()
        {
            if (Volatile.Read(ref _resident) is not { IsLeased: true })
            {
                return null;
            }

            lock (_gate)
            {
                var resident = Volatile.Read(ref _resident);
                if (resident is not { IsLeased: true } || Interlocked.CompareExchange(ref _resident, null, resident) != resident)
                {
                    return null;
                }

                // The slot is empty (a full fence): a lease that ended just before is ours now.
                return resident.TryTakeIdle() ? resident : null;
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

                // The resident last (it is the newest): held while it is judged, so nobody lends
                // it meanwhile, and the lock keeps its slot; idle again when it stays.
                var resident = Volatile.Read(ref _resident);
                if (resident is not null && resident.TryTakeIdle())
                {
                    if (shouldRemove(resident, state))
                    {
                        Interlocked.CompareExchange(ref _resident, null, resident);
                        removed.Add(resident);
                    }
                    else
                    {
                        resident.MarkIdle();
                    }
                }
            }
        }

        public void ForEach<TState>(Action<PooledConnection, TState> visit, TState state)
        {
            if (Volatile.Read(ref _resident) is { IsIdle: true } resident)
            {
                visit(resident, state);
            }

            lock (_gate)
            {
                for (var i = 0; i < _count; i++)
                {
                    visit(_items[(_head + i) % _items.Length]!, state);
                }
            }
        }

        /// <summary>Puts held <paramref name="connection"/> into the empty slot and makes it idle; false when the slot was taken first.</summary>
        private bool TryInstall(PooledConnection connection)
        {
            connection.IdleStripe = index;
            if (Interlocked.CompareExchange(ref _resident, connection, null) is not null)
            {
                return false;
            }

            // Nobody takes a held resident out of its slot but its holder (a full ring's push and
            // the reaper take only lent ones): it is still there once it is idle.
            connection.MarkIdle();
            return true;
        }

        /// <summary>Under the lock: <paramref name="incoming"/> (held) replaces <paramref name="resident"/> in the slot and is made idle.</summary>
        private void Swap(PooledConnection resident, PooledConnection incoming)
        {
            incoming.IdleStripe = index;
            var seen = Interlocked.CompareExchange(ref _resident, incoming, resident); // a full fence, for the race in the remarks
            System.Diagnostics.Debug.Assert(ReferenceEquals(seen, resident), "The slot changed under the lock.");
            incoming.MarkIdle();
        }

        /// <summary>Under the lock: <paramref name="connection"/> (held) becomes the ring's newest; returns the oldest when the ring is full.</summary>
        private PooledConnection? PushRingNewest(PooledConnection connection)
        {
            if (_ringCapacity == 0)
            {
                return connection; // the slot is the whole stripe: the one displaced is the oldest
            }

            if (_count < _ringCapacity)
            {
                Grow();
                _items[(_head + _count) % _items.Length] = connection;
                Volatile.Write(ref _count, _count + 1);
                return null;
            }

            // Full: the oldest goes, the displaced one becomes the newest of the ring.
            var items = _items;
            var oldest = items[_head];
            items[_head] = connection;
            _head = (_head + 1) % items.Length;
            return oldest;
        }

        /// <summary>Under the lock: room for one more in the ring's array, doubling it (up to the ring's capacity) and unwrapping it.</summary>
        private void Grow()
        {
            if (_count < _items.Length)
            {
                return;
            }

            var grown = new PooledConnection?[Math.Min(_ringCapacity, Math.Max(4, _items.Length * 2))];
            for (var i = 0; i < _count; i++)
            {
                grown[i] = _items[(_head + i) % _items.Length];
            }

            _items = grown;
            _head = 0;
        }
    }
}

/// <summary>What <see cref="IdleStore.TryReturnResident"/> did.</summary>
internal enum ReturnOutcome
{
    /// <summary>Not a resident: nothing was done.</summary>
    NotResident,

    /// <summary>The lease had already ended (another copy was disposed first): nothing to do.</summary>
    AlreadyEnded,

    /// <summary>Idle in its slot again.</summary>
    Idle,

    /// <summary>The lease ended but the slot had been taken: the caller holds it and stores it again.</summary>
    Held,
}
