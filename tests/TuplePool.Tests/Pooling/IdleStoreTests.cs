using TuplePool.Pooling;

namespace TuplePool.Tests.Pooling;

/// <summary>The idle store on its own: order, capacity, overflow, removal. Single-threaded, stripes fixed.</summary>
public sealed class IdleStoreTests : IAsyncLifetime
{
    private readonly TestConnections _connections = new();

    public ValueTask InitializeAsync() => default;

    public ValueTask DisposeAsync() => _connections.DisposeAsync();

    [Fact]
    public async Task TryPop_ReturnsTheMostRecentlyReturnedFirst()
    {
        var c = await _connections.MakeAsync(3);
        var store = new IdleStore(capacity: 3, stripes: 1);
        foreach (var connection in c)
        {
            Assert.Null(store.Push(connection));
        }

        Assert.Equal(3, store.Count);
        Assert.Equal([c[2], c[1], c[0]], PopAll(store));
        Assert.Equal(0, store.Count);
        Assert.False(store.TryPop(out _));
    }

    [Fact]
    public async Task Push_WhenFull_GivesUpTheOldest()
    {
        // the store gave up the previously newest connection, keeping the oldest.
        var c = await _connections.MakeAsync(5);
        var store = new IdleStore(capacity: 3, stripes: 1);
        store.Push(c[0]);
        store.Push(c[1]);
        store.Push(c[2]);

        Assert.Same(c[0], store.Push(c[3]));
        Assert.Same(c[1], store.Push(c[4]));
        Assert.Equal([c[4], c[3], c[2]], PopAll(store));
    }

    [Fact]
    public async Task Push_CapacityOne_TheSlotIsTheWholeStore()
    {
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 1, stripes: 1);

        Assert.Null(store.Push(c[0]));
        Assert.Same(c[0], store.Push(c[1]));
        Assert.Equal([c[1]], PopAll(store));
    }

    [Fact]
    public async Task PushAndPop_Interleaved_KeepMostRecentFirstAcrossTheRingsWrap()
    {
        var c = await _connections.MakeAsync(6);
        var store = new IdleStore(capacity: 3, stripes: 1);
        store.Push(c[0]);
        store.Push(c[1]);
        store.Push(c[2]);
        store.Push(c[3]); // c0 out; the ring's head has moved
        Assert.True(store.TryPop(out var newest));
        Assert.Same(c[3], newest);
        store.Push(c[4]);

        Assert.Same(c[1], store.Push(c[5]));
        Assert.Equal([c[5], c[4], c[2]], PopAll(store));
    }

    [Fact]
    public async Task RemoveWhere_TakesOnlyTheSelected_OldestFirst_AndKeepsTheOrderOfTheRest()
    {
        var c = await _connections.MakeAsync(5);
        var store = new IdleStore(capacity: 4, stripes: 1);
        foreach (var connection in c)
        {
            store.Push(connection); // c0 falls out: the ring has wrapped
        }

        var removed = new List<PooledConnection>();
        store.RemoveWhere(static (x, odd) => odd.Contains(x), new[] { c[1], c[3] }, removed);

        Assert.Equal([c[1], c[3]], removed);
        Assert.Equal(2, store.Count);
        Assert.Equal([c[4], c[2]], PopAll(store));
    }

    [Fact]
    public async Task RemoveWhere_SelectsTheNewest_TakesItOutOfTheSlot()
    {
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 2, stripes: 1);
        store.Push(c[0]);
        store.Push(c[1]);

        var removed = new List<PooledConnection>();
        store.RemoveWhere(static (x, newest) => ReferenceEquals(x, newest), c[1], removed);

        Assert.Equal([c[1]], removed);
        Assert.Equal([c[0]], PopAll(store));
    }

    [Fact]
    public async Task ForEach_VisitsEveryIdleConnectionOnce()
    {
        var c = await _connections.MakeAsync(4);
        var store = new IdleStore(capacity: 4, stripes: 2);
        foreach (var connection in c)
        {
            store.Push(connection);
        }

        var seen = new List<PooledConnection>();
        store.ForEach(static (x, list) => list.Add(x), seen);

        Assert.Equal(4, seen.Count);
        Assert.Equal(c.ToHashSet(), seen.ToHashSet());
    }

    [Fact]
    public async Task ManyStripes_NeverHoldMoreThanTheCapacity_AndLoseNothing()
    {
        var c = await _connections.MakeAsync(10);
        var store = new IdleStore(capacity: 4, stripes: 4);
        var given = new List<PooledConnection>();
        foreach (var connection in c)
        {
            if (store.Push(connection) is { } overflow)
            {
                given.Add(overflow);
            }

            Assert.InRange(store.Count, 1, 4);
        }

        var kept = PopAll(store);
        Assert.Equal(4, kept.Count);
        Assert.Equal(6, given.Count);
        Assert.Equal(c.ToHashSet(), kept.Concat(given).ToHashSet()); // each one either kept or given back, once
    }

    [Fact]
    public async Task TryLendResident_LendsTheNewestWhereItIs_AndItsReturnMakesItIdleThere()
    {
        var c = await _connections.MakeAsync(1);
        var store = new IdleStore(capacity: 4, stripes: 1);
        store.Push(c[0]);

        var lent = store.TryLendResident(out var token);

        Assert.Same(c[0], lent);
        Assert.True(c[0].IsLeasedWith(token));
        Assert.Equal(0, store.Count);
        Assert.Null(store.TryLendResident(out _)); // lent: not to be lent twice
        Assert.False(store.TryPop(out _));

        Assert.Equal(ReturnOutcome.Idle, store.TryReturnResident(c[0], token));
        Assert.Equal(1, store.Count);
        Assert.False(c[0].IsLeasedWith(token));
        Assert.Same(c[0], store.TryLendResident(out var next));
        Assert.NotEqual(token, next); // each lease its own token
    }

    [Fact]
    public async Task TryReturnResident_ASecondCopyOfTheLease_DoesNothing()
    {
        var c = await _connections.MakeAsync(1);
        var store = new IdleStore(capacity: 2, stripes: 1);
        store.Push(c[0]);
        store.TryLendResident(out var token);
        Assert.Equal(ReturnOutcome.Idle, store.TryReturnResident(c[0], token));
        var relent = store.TryLendResident(out var current);

        Assert.Equal(ReturnOutcome.AlreadyEnded, store.TryReturnResident(c[0], token)); // the stale copy
        Assert.Same(c[0], relent);
        Assert.True(c[0].IsLeasedWith(current)); // the current lease is untouched
    }

    [Fact]
    public async Task Push_WhileTheResidentIsLent_KeepsItInItsSlot_TheNewcomerWaitsBehind()
    {
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 3, stripes: 1);
        store.Push(c[0]);
        store.TryLendResident(out var token);

        Assert.Null(store.Push(c[1]));

        Assert.Equal(1, store.Count);
        Assert.Equal(ReturnOutcome.Idle, store.TryReturnResident(c[0], token)); // still the resident: the cheap return
        Assert.Equal([c[0], c[1]], PopAll(store));
    }

    [Fact]
    public async Task Push_RingFullAndTheResidentLent_TakesTheSlot_TheLentOneComesBackTheSlowWay()
    {
        // Capacity 1: the slot is the whole stripe. The lent resident must not make the store
        // refuse a connection while nothing in it is idle.
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 1, stripes: 1);
        store.Push(c[0]);
        store.TryLendResident(out var token);

        Assert.Null(store.Push(c[1]));
        Assert.Equal(1, store.Count);

        Assert.Equal(ReturnOutcome.NotResident, store.TryReturnResident(c[0], token));
        Assert.True(c[0].TryEndLease(token));
        Assert.Same(c[1], store.Push(c[0])); // the returner pushes it; now c[1] is the oldest
        Assert.Equal([c[0]], PopAll(store));
    }

    [Fact]
    public async Task OneLeaseAtATime_StaysOnTheFirstStripe_ALendThatFindsTheResidentLentSpreadsThreads()
    {
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 4, stripes: 2);
        store.Push(c[0]);
        store.Push(c[1]);

        // Lent and returned one at a time: the first stripe's resident every time, no spreading.
        for (var i = 0; i < 3; i++)
        {
            var lent = store.TryLendResident(out var token);
            Assert.Same(c[1], lent);
            Assert.Equal(ReturnOutcome.Idle, store.TryReturnResident(lent!, token));
        }

        Assert.False(store.IsStriped);
        Assert.Equal(0, c[1].IdleStripe);

        // A second lend while the resident is out: nothing lent from the slot, the store spreads
        // from now on, and the other connection still comes out of the ring.
        var first = store.TryLendResident(out var firstToken);
        Assert.Same(c[1], first);
        Assert.Null(store.TryLendResident(out _));
        Assert.True(store.IsStriped);
        Assert.True(store.TryPop(out var second));
        Assert.Same(c[0], second);
        Assert.Equal(ReturnOutcome.Idle, store.TryReturnResident(first!, firstToken));
        Assert.Equal(1, store.Count);
    }

    [Fact]
    public async Task ReleaseLeasedResidents_LetsGoOfLentResidents_AndKeepsIdleOnes()
    {
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 2, stripes: 2);
        store.Push(c[0]);
        store.Push(c[1]);
        var lent = store.TryLendResident(out var token)!;
        var held = new List<PooledConnection>();

        store.ReleaseLeasedResidents(held);

        Assert.Empty(held);
        Assert.Equal(ReturnOutcome.NotResident, store.TryReturnResident(lent, token)); // the slot no longer holds it
        Assert.Equal(1, store.Count); // the other stays
    }

    [Fact]
    public async Task Forget_AHeldResident_EmptiesItsSlot()
    {
        var c = await _connections.MakeAsync(2);
        var store = new IdleStore(capacity: 1, stripes: 1);
        store.Push(c[0]);
        store.TryLendResident(out var token);
        Assert.True(c[0].TryEndLease(token)); // held by its returner (the slow way), still in its slot

        store.Forget(c[0]);

        Assert.Equal(ReturnOutcome.NotResident, store.TryReturnResident(c[0], c[0].BeginLease()));
        Assert.Null(store.Push(c[1])); // the slot is free for the next one
    }

    [Fact]
    public void Storage_FollowsUse_NotTheCapacity()
    {
        // MaxIdlePerDestination = 1,000,000 preallocated 7.7 MiB per destination.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var store = new IdleStore(capacity: 1_000_000);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.False(store.HasStorage);
        Assert.InRange(allocated, 1, 64);
        Assert.Equal(0, store.Count);
        Assert.False(store.TryPop(out _));
    }

    [Fact]
    public async Task Storage_GrowsWithTheConnectionsIdle()
    {
        var c = await _connections.MakeAsync(6);
        var store = new IdleStore(capacity: 1_000_000, stripes: 1);
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var connection in c)
        {
            Assert.Null(store.Push(connection));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.InRange(allocated, 1, 1024); // one stripe and a ring of 8, not 1,000,000 slots
        Assert.Equal(6, store.Count);
        Assert.Equal(Enumerable.Reverse(c), PopAll(store)); // not c.Reverse(): on net8.0 that binds to the span overload, which returns nothing
    }

    [Fact]
    public async Task LendsReturnsPushesAndReleases_OnSeveralThreadsAtOnce_LoseNothing()
    {
        // The race the store's remarks walk through: a resident's lease ending while a pusher
        // with a full ring or the reaper takes it out of its slot. Whatever interleaving, every
        // connection ends up either idle in the store or in a thread's hands, never both or neither.
        var c = await _connections.MakeAsync(6);
        var store = new IdleStore(capacity: 3, stripes: 1);
        var spare = new System.Collections.Concurrent.ConcurrentQueue<PooledConnection>(c);
        var deadline = DateTime.UtcNow.AddSeconds(2);
        var rounds = 0;

        void Lender()
        {
            while (DateTime.UtcNow < deadline)
            {
                if (store.TryLendResident(out var token) is { } lent)
                {
                    Interlocked.Increment(ref rounds);
                    switch (store.TryReturnResident(lent, token))
                    {
                        case ReturnOutcome.NotResident:
                            Assert.True(lent.TryEndLease(token));
                            Keep(store.Push(lent));
                            break;
                        case ReturnOutcome.Held:
                            Keep(store.Push(lent));
                            break;
                        case ReturnOutcome.AlreadyEnded:
                            Assert.Fail("One copy only: its lease cannot have ended before.");
                            break;
                    }
                }
            }
        }

        void Pusher()
        {
            var held = new List<PooledConnection>();
            while (DateTime.UtcNow < deadline)
            {
                if (spare.TryDequeue(out var connection))
                {
                    Keep(store.Push(connection));
                }
                else if (store.TryPop(out var popped))
                {
                    spare.Enqueue(popped!);
                }

                held.Clear();
                store.ReleaseLeasedResidents(held);
                held.ForEach(h => Keep(store.Push(h)));
            }
        }

        void Keep(PooledConnection? overflow)
        {
            if (overflow is not null)
            {
                spare.Enqueue(overflow);
            }
        }

        await Task.WhenAll(Task.Run(Lender), Task.Run(Lender), Task.Run(Pusher));

        var idle = PopAll(store);
        Assert.True(rounds > 0);
        Assert.Equal(6, idle.Count + spare.Count);
        Assert.Equal(c.ToHashSet(), idle.Concat(spare).ToHashSet());
    }

    private static List<PooledConnection> PopAll(IdleStore store)
    {
        var popped = new List<PooledConnection>();
        while (store.TryPop(out var connection))
        {
            popped.Add(connection!);
        }

        return popped;
    }
}
