using Microsoft.Extensions.Time.Testing;
using TuplePool.Pooling;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// The line of waiters on its own: order, hand-off, and each race between a wake and a
/// waiter giving up, forced by doing the two steps in a chosen order on one thread.
/// </summary>
public sealed class WaiterQueueTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly WaiterQueue _queue = new();
    private readonly TestConnections _connections = new();

    public ValueTask InitializeAsync() => default;

    public ValueTask DisposeAsync() => _connections.DisposeAsync();

    [Fact]
    public void WakeOne_WakesWaitersInTheOrderTheyJoined()
    {
        var waiters = Enumerable.Range(0, 4).Select(_ => Join()).ToList();

        for (var i = 0; i < waiters.Count; i++)
        {
            Assert.True(_queue.WakeOne());
            Assert.All(waiters.Take(i + 1), w => Assert.True(w.Wait.IsCompleted));
            Assert.All(waiters.Skip(i + 1), w => Assert.False(w.Wait.IsCompleted));
        }

        Assert.All(waiters, w => Assert.Equal(WakeReason.Room, Completed(w.Wait)));
        Assert.False(_queue.WakeOne()); // nobody left
    }

    [Fact]
    public void TryEnqueue_AtTheFront_IsWokenBeforeEveryoneAlreadyInLine()
    {
        var first = Join();
        var second = Join();
        var woken = Join(atFront: true); // a waiter that was woken, found nothing, and keeps its turn

        _queue.WakeOne();

        Assert.True(woken.Wait.IsCompleted);
        Assert.False(first.Wait.IsCompleted);
        Assert.False(second.Wait.IsCompleted);
    }

    [Fact]
    public async Task TryHandOff_GivesTheConnectionToTheFirstWaiter_WhoAloneOwnsIt()
    {
        var connection = (await _connections.MakeAsync(1))[0];
        var first = Join();
        var second = Join();

        Assert.True(_queue.TryHandOff(connection));

        Assert.Equal(WakeReason.Connection, await first.Wait);
        Assert.Same(connection, first.Waiter.TakeConnection());
        Assert.Null(first.Waiter.TakeConnection()); // taken once
        Assert.False(second.Wait.IsCompleted);
        Assert.Equal(1, _queue.Count);
    }

    [Fact]
    public void CancelThenWake_TheWakeGoesToTheNextWaiter()
    {
        using var cts = new CancellationTokenSource();
        var cancelled = Join(cts.Token);
        var next = Join();

        cts.Cancel();      // the waiter gives up first...
        _queue.WakeOne(); // ...then the wake comes: it must not be spent on the one who left

        Assert.Equal(WakeReason.Canceled, Completed(cancelled.Wait));
        Assert.Equal(WakeReason.Room, Completed(next.Wait));
        Assert.False(_queue.TryRemove(cancelled.Waiter)); // the wake took it out of line on its way past
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void WakeThenCancel_TheWaiterKeepsItsWake()
    {
        using var cts = new CancellationTokenSource();
        var woken = Join(cts.Token);
        var next = Join();

        _queue.WakeOne(); // the wake comes first...
        cts.Cancel();     // ...a cancellation right after cannot take it back

        Assert.Equal(WakeReason.Room, Completed(woken.Wait));
        Assert.False(next.Wait.IsCompleted); // one wake, one waiter
    }

    [Fact]
    public async Task TimeoutThenHandOff_TheConnectionIsNotGivenToTheWaiterThatLeft()
    {
        var connection = (await _connections.MakeAsync(1))[0];
        var timedOut = Join(deadline: _time.GetTimestamp() + _time.TimestampFrequency);

        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal(WakeReason.TimedOut, Completed(timedOut.Wait));
        Assert.False(_queue.TryHandOff(connection)); // nobody took it: the returner keeps it
        Assert.Null(timedOut.Waiter.TakeConnection());
    }

    [Fact]
    public void Deadline_NotYetPassed_DoesNotComplete()
    {
        var waiter = Join(deadline: _time.GetTimestamp() + (2 * _time.TimestampFrequency));

        _time.Advance(TimeSpan.FromSeconds(1.999));
        Assert.False(waiter.Wait.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal(WakeReason.TimedOut, Completed(waiter.Wait));
    }

    [Fact]
    public void AReusedWaiter_CannotBeCompletedWithTheTicketOfAnEarlierUse()
    {
        var waiter = new Waiter(_time);
        var oldTicket = waiter.Prepare();
        Assert.True(waiter.TrySignal(oldTicket, WakeReason.Room));
        Assert.Equal(WakeReason.Room, Completed(waiter.WaitAsync()));
        Assert.Null(waiter.Release());

        var newTicket = waiter.Prepare();
        var wait = waiter.WaitAsync();

        Assert.NotEqual(oldTicket, newTicket);
        Assert.False(waiter.TrySignal(oldTicket, WakeReason.Room)); // a party that kept the old ticket
        Assert.False(wait.IsCompleted);
        Assert.True(waiter.TrySignal(newTicket, WakeReason.Room));
        Assert.False(waiter.TrySignal(newTicket, WakeReason.Disposed)); // exactly one party completes a use
        Assert.Equal(WakeReason.Room, Completed(wait));
    }

    [Fact]
    public async Task Release_AfterAHandOffNobodyAwaited_GivesTheConnectionBack()
    {
        var connection = (await _connections.MakeAsync(1))[0];
        var waiter = Join();
        Assert.True(_queue.TryHandOff(connection));

        // The acquirer left on an error before looking at its result.
        Assert.Same(connection, waiter.Waiter.Release());
    }

    [Fact]
    public void TryEnqueue_PastTheLimit_IsRefused_ButTheFrontIsAlwaysOpen()
    {
        Join(limit: 2);
        Join(limit: 2);
        var refused = new Waiter(_time);

        Assert.False(_queue.TryEnqueue(refused, refused.Prepare(), atFront: false, limit: 2));
        Assert.Equal(2, _queue.Count);
        Assert.Null(refused.Release());

        Join(atFront: true, limit: 2);
        Assert.Equal(3, _queue.Count);
    }

    [Fact]
    public void FailAll_CompletesEveryWaiterWithDisposed()
    {
        var waiters = Enumerable.Range(0, 3).Select(_ => Join()).ToList();

        _queue.FailAll();

        Assert.All(waiters, w => Assert.Equal(WakeReason.Disposed, Completed(w.Wait)));
        Assert.Equal(0, _queue.Count);
    }

    [Fact]
    public void TryRemove_TakesAWaiterOutOfTheMiddle_AndTheOthersKeepTheirOrder()
    {
        var a = Join();
        var b = Join();
        var c = Join();

        Assert.True(_queue.TryRemove(b.Waiter));
        _queue.WakeOne();
        _queue.WakeOne();

        Assert.True(a.Wait.IsCompleted);
        Assert.True(c.Wait.IsCompleted);
        Assert.False(b.Wait.IsCompleted);
        Assert.False(_queue.TryRemove(b.Waiter));
    }

    [Fact]
    public async Task ManyThreads_EachDeliveredWakeIsOwnedByExactlyOneWaiter_AndNoneIsLost()
    {
        const int Waiters = 2000;
        var joined = new (Waiter Waiter, ValueTask<WakeReason> Wait, CancellationTokenSource Cancel)[Waiters];
        for (var i = 0; i < Waiters; i++)
        {
            var cts = new CancellationTokenSource();
            var (waiter, wait) = Join(cts.Token);
            joined[i] = (waiter, wait, cts);
        }

        // Wakes and cancellations race on the thread pool.
        var delivered = 0;
        var wakes = Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < Waiters / 8; i++)
            {
                if (_queue.WakeOne())
                {
                    Interlocked.Increment(ref delivered);
                }
            }
        }));
        var cancels = Enumerable.Range(0, 4).Select(t => Task.Run(() =>
        {
            for (var i = t; i < Waiters; i += 8)
            {
                joined[i].Cancel.Cancel();
            }
        }));
        await Task.WhenAll(wakes.Concat(cancels));

        var room = 0;
        var canceled = 0;
        var waiting = 0;
        foreach (var (waiter, wait, cts) in joined)
        {
            if (!wait.IsCompleted)
            {
                waiting++;
                Assert.True(waiter.IsQueued); // asleep means still in line: a later wake can find it
                continue;
            }

            switch (await wait)
            {
                case WakeReason.Room:
                    room++;
                    break;
                case WakeReason.Canceled:
                    canceled++;
                    _queue.TryRemove(waiter);
                    break;
                default:
                    Assert.Fail("Only wakes and cancellations happened.");
                    break;
            }

            cts.Dispose();
        }

        Assert.Equal(Volatile.Read(ref delivered), room); // every wake that said "delivered" reached one waiter
        Assert.Equal(Waiters, room + canceled + waiting);
        Assert.Equal(waiting, _queue.Count);
    }

    /// <summary>The result of a wait that must already be over: the wakes under test complete waiters synchronously.</summary>
    private static WakeReason Completed(ValueTask<WakeReason> wait)
    {
        Assert.True(wait.IsCompleted);
        return wait.GetAwaiter().GetResult();
    }

    private (Waiter Waiter, ValueTask<WakeReason> Wait) Join(CancellationToken cancellationToken = default, long deadline = long.MaxValue, bool atFront = false, int limit = int.MaxValue)
    {
        var waiter = new Waiter(_time);
        var ticket = waiter.Prepare();
        Assert.True(_queue.TryEnqueue(waiter, ticket, atFront, limit));
        waiter.Arm(deadline, cancellationToken);
        return (waiter, waiter.WaitAsync());
    }
}
