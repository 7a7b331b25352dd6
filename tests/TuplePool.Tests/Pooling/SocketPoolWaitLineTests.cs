using System.Net;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>MaxPendingAcquires and the count of waiting callers, through the public pool.</summary>
public sealed class SocketPoolWaitLineTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task MaxPendingAcquires_ACallerPastIt_FailsAtOnceSayingTheWaitLineIsFull()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 1, o => o.MaxPendingAcquires = 3);
        var held = await pool.AcquireAsync(server.EndPoint);
        var waiting = Enumerable.Range(0, 3).Select(_ => pool.AcquireAsync(server.EndPoint).AsTask()).ToList();
        await PoolWait.UntilPendingAsync(pool, 3);

        var refused = pool.AcquireAsync(server.EndPoint);

        Assert.True(refused.IsCompleted); // failed at once, on a clock that never moves
        var error = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => refused.AsTask());
        Assert.True(error.WaitLineFull);
        Assert.Contains("the wait line is full: 3 callers are already waiting (TuplePoolOptions.MaxPendingAcquires)", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(error.Usage).Active);
        Assert.Equal(3, pool.GetSnapshot().PendingAcquires);
        Assert.Equal(1, pool.GetSnapshot().RefusedAcquires); // the pool's own record of typed refusals
        Assert.Equal(_time.GetUtcNow(), pool.GetSnapshot().LastRefusal);

        // The line still moves, and once shorter it takes callers again.
        held.Dispose();
        var first = await waiting[0];
        await PoolWait.UntilPendingAsync(pool, 2);
        var admitted = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 3);
        first.Dispose();
        (await waiting[1]).Dispose();
        (await waiting[2]).Dispose();
        (await admitted).Dispose();
        Assert.Equal(0, pool.GetSnapshot().PendingAcquires);
    }

    [Fact]
    public async Task MaxPendingAcquires_IsPerDestination()
    {
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(capacity: 1, o => o.MaxPendingAcquires = 1);
        var heldA = await pool.AcquireAsync(a.EndPoint);
        var heldB = await pool.AcquireAsync(b.EndPoint);
        var waitingA = pool.AcquireAsync(a.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);

        var waitingB = pool.AcquireAsync(b.EndPoint).AsTask(); // B's line is empty: admitted
        await PoolWait.UntilPendingAsync(pool, 2);
        Assert.False(waitingB.IsCompleted);
        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(a.EndPoint).AsTask());

        heldA.Dispose();
        heldB.Dispose();
        (await waitingA).Dispose();
        (await waitingB).Dispose();
    }

    [Fact]
    public async Task Snapshot_PendingAcquires_CountsCallersWaitingOverEveryDestination()
    {
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(capacity: 1, o => o.AcquireTimeout = TimeSpan.FromSeconds(5));
        var heldA = await pool.AcquireAsync(a.EndPoint);
        var heldB = await pool.AcquireAsync(b.EndPoint);
        Assert.Equal(0, pool.GetSnapshot().PendingAcquires);

        var waiting = new[]
        {
            pool.AcquireAsync(a.EndPoint).AsTask(),
            pool.AcquireAsync(a.EndPoint).AsTask(),
            pool.AcquireAsync(b.EndPoint).AsTask(),
        };
        await PoolWait.UntilPendingAsync(pool, 3);
        Assert.Contains("3 callers waiting", pool.GetSnapshot().ToString(), StringComparison.Ordinal);

        _time.Advance(TimeSpan.FromSeconds(5)); // they all give up: the count goes back to 0
        foreach (var task in waiting)
        {
            await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => task);
        }

        Assert.Equal(0, pool.GetSnapshot().PendingAcquires);
        heldA.Dispose();
        heldB.Dispose();
    }

    private SocketPool CreateSut(int capacity, Action<TuplePoolOptions>? configure = null)
    {
        var slice = PortSlices.Next(50);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(slice.First, slice.First + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(300),
            CloseMode = CloseMode.Abortive,
        };
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, new SocketConnector(TestKernel.Create(), slice), Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
    }
}
