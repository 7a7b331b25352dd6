using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// What wakes a caller waiting for room, and that no wake is lost: a close that lands between a
/// refused slot and joining the line, a TIME_WAIT charge that ends (the expiry timer armed again
/// for the next waiter; a tuple two destinations share), a source's quarantine that ends, for
/// every destination waiting on it. And a kernel refusal the census explains only in part puts
/// the caller to sleep rather than trying again and again. Real loopback sockets in the test's
/// own port slice (<see cref="LoopbackPool"/>), a fake clock.
/// </summary>
public sealed class SocketPoolWakeUpTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>A pool on <paramref name="time"/> that closes abortively: a close leaves no TIME_WAIT to wait out.</summary>
    private static SocketPool CreateSut(TimeProvider time, int capacity = 10, Action<TuplePoolOptions>? configure = null, ISocketConnector? connector = null)
        => LoopbackPool.Create(time, capacity, CloseMode.Abortive, configure, connector);

    /// <summary>A pool on <see cref="_time"/> that closes gracefully: each close is charged 60 s of TIME_WAIT, which the test waits out on the clock.</summary>
    private SocketPool CreateSut(int capacity, Action<TuplePoolOptions>? configure = null, ISocketConnector? connector = null, IKernelCensus? census = null)
        => LoopbackPool.Create(_time, capacity, CloseMode.Graceful, o => { o.TimeWaitDuration = TimeSpan.FromSeconds(60); configure?.Invoke(o); }, connector, census: census);

    [Fact]
    public async Task AcquireAsync_ACloseBetweenAFailedSlotAndJoiningTheLine_StillReachesTheWaiter()
    {
        // MaxConnectionsPerDestination = 1, the only connection closes after the
        // second caller failed to take the slot but before it joined the line.
        var time = new HookedTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, configure: o => o.MaxConnectionsPerDestination = 1);
        var first = await pool.AcquireAsync(server.EndPoint);

        // The second acquire reads the clock when its slow path starts, then again after the
        // slot was refused, to work out how long it may wait: close the first connection there.
        time.OnRead(afterReads: 1, () =>
        {
            first.Invalidate();
            first.Dispose();
        });
        var second = pool.AcquireAsync(server.EndPoint).AsTask();

        // The fake clock never moves: a waiter nobody wakes would sleep for good.
        var lease = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(time.HookRan);
        Assert.False(lease.IsReused);
        lease.Dispose();
    }

    [Fact]
    public async Task ExpiryTimer_AfterATimerWake_IsArmedAgainForTheNextWaiter()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 2);
        var a = await pool.AcquireAsync(server.EndPoint);
        var b = await pool.AcquireAsync(server.EndPoint);
        a.Invalidate();
        a.Dispose(); // TIME_WAIT until t=60
        _time.Advance(TimeSpan.FromSeconds(10));
        b.Invalidate();
        b.Dispose(); // TIME_WAIT until t=70

        var first = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        var second = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 2);

        _time.Advance(TimeSpan.FromSeconds(51));
        var firstLease = await first.WaitAsync(TimeSpan.FromSeconds(5)); // held: no idle socket for the second
        await PoolWait.UntilPendingAsync(pool, 1); // the second tried, found no room, and sleeps again
        Assert.False(second.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(10));
        var secondLease = await second.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(secondLease.IsReused);
        firstLease.Dispose();
        secondLease.Dispose();
    }

    [Fact]
    public async Task TimeWaitClose_OnATupleSharedByTwoDestinations_WakesTheOtherDestination()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 1);
        var byName = new DnsEndPoint("localhost", server.EndPoint.Port, AddressFamily.InterNetwork);
        var held = await pool.AcquireAsync(server.EndPoint);

        var waiting = pool.AcquireAsync(byName).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        held.Invalidate();
        held.Dispose();
        _time.Advance(TimeSpan.FromSeconds(61));

        (await waiting.WaitAsync(TimeSpan.FromSeconds(5))).Dispose();
    }

    [Fact]
    public async Task QuarantineEnds_AWaiterForWhomOnlyTheQuarantinedSourceHasRoom_IsServed()
    {
        // S2 is full, S3 failed to bind and is out for SourceQuarantine. When S3 comes back nothing
        // has closed, so only the quarantine's end can wake the waiter; else it sleeps until AcquireTimeout.
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 2, configure: TwoSourcesOneQuarantine, connector: BindFailsOnceFrom(TestSources.S3));
        var held = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) };
        Assert.All(held, l => Assert.Equal(TestSources.S2, l.LocalEndPoint.Address)); // S3 failed the second one's bind
        Assert.Contains(pool.GetSnapshot().Sources, s => s.Address.Equals(TestSources.S2) && !s.IsQuarantined); // S2 is still in: the caller waits instead of failing

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        time.Advance(TimeSpan.FromSeconds(30));

        await using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TestSources.S3, lease.LocalEndPoint.Address);
        foreach (var h in held)
        {
            h.Dispose();
        }
    }

    [Fact]
    public async Task QuarantineEnds_WaitersOfEveryDestinationUsingTheFamily_AreServed()
    {
        // One quarantine end, two destinations waiting for it: each must see it, not just the first.
        var time = new FakeTimeProvider();
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 2, configure: TwoSourcesOneQuarantine, connector: BindFailsOnceFrom(TestSources.S3));
        var held = new List<SocketLease>();
        foreach (var destination in new[] { a.EndPoint, a.EndPoint, b.EndPoint, b.EndPoint })
        {
            held.Add(await pool.AcquireAsync(destination));
        }

        Assert.All(held, l => Assert.Equal(TestSources.S2, l.LocalEndPoint.Address));
        var toA = pool.AcquireAsync(a.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        var toB = pool.AcquireAsync(b.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 2);
        time.Advance(TimeSpan.FromSeconds(30));

        await using var leaseA = await toA.WaitAsync(TimeSpan.FromSeconds(10));
        await using var leaseB = await toB.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TestSources.S3, leaseA.LocalEndPoint.Address);
        Assert.Equal(TestSources.S3, leaseB.LocalEndPoint.Address);
        foreach (var h in held)
        {
            h.Dispose();
        }
    }

    [Fact]
    public async Task KernelRefusal_TheCensusSeesOnlyPartOfIt_DoesNotSpin()
    {
        // The kernel refuses every port (say, bind()-owned elsewhere) while the census sees one
        // foreign socket: the tuple must count as full, not leave "room" acquirers spin on.
        var connector = Substitute.For<ISocketConnector>();
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns<ValueTask<Socket>>(_ => throw new SocketException((int)SocketError.AddressNotAvailable));
        var destination = new IPEndPoint(IPAddress.Loopback, 20999); // never reached: the connector is a substitute
        var census = new FakeKernelCensus([FakeKernelCensus.Socket(TestSources.S2, 40000, destination)]);
        await using var pool = CreateSut(capacity: 10, connector: connector, census: census);
        using var stop = new CancellationTokenSource();

        var waiting = pool.AcquireAsync(destination, stop.Token).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1); // asleep after one refused attempt, not trying again and again
        Assert.Single(connector.ReceivedCalls());
        await stop.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.Single(connector.ReceivedCalls());
        Assert.Equal(0, Assert.Single(pool.GetSnapshot().Tuples).Active);
    }

    private static void TwoSourcesOneQuarantine(TuplePoolOptions options)
    {
        options.SourceAddresses = TestSources.Take(2);
        options.SourceQuarantine = TimeSpan.FromSeconds(30);
    }

    /// <summary>Real loopback connects, except that the first bind to <paramref name="source"/> fails.</summary>
    private static ISocketConnector BindFailsOnceFrom(IPAddress source)
    {
        var real = FakeConnector.Create();
        var connector = Substitute.For<ISocketConnector>();
        var calls = 0;
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => call.ArgAt<IPAddress>(0).Equals(source) && Interlocked.Increment(ref calls) == 1
                ? throw new SourceBindException(source, new SocketException((int)SocketError.AddressNotAvailable))
                : real.ConnectAsync(call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1), call.ArgAt<CancellationToken>(2)));
        return connector;
    }
}
