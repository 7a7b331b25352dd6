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
        // Issue 9.10: the store gave up the previously newest connection, keeping the oldest.
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
