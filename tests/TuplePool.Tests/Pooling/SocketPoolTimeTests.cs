using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// Lifetime, idle timeout, the reaper, TIME_WAIT expiry and the acquire timeout, driven by a
/// <see cref="FakeTimeProvider"/>. Connections are real loopback sockets from a substitute connector.
/// </summary>
public sealed class SocketPoolTimeTests
{
    private readonly FakeTimeProvider _time = new();
    private readonly ISocketConnector _connector = FakeConnector.Create();

    private SocketPool CreateSut(Action<TuplePoolOptions>? configure = null, int capacity = 100)
    {
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(40000, 40000 + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(5),
            IdleTimeout = TimeSpan.FromSeconds(60),
        };
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, _connector, Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
    }

    [Fact]
    public async Task AcquireAsync_IdlePastIdleTimeout_OpensANewConnection()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.ValidateOnAcquire = false);
        var first = await pool.AcquireAsync(server.EndPoint);
        var firstEndPoint = first.LocalEndPoint;
        first.Dispose();

        _time.Advance(TimeSpan.FromSeconds(59));
        var reused = await pool.AcquireAsync(server.EndPoint);
        Assert.True(reused.IsReused);
        reused.Dispose();

        _time.Advance(TimeSpan.FromSeconds(61));
        await using var fresh = await pool.AcquireAsync(server.EndPoint);
        Assert.False(fresh.IsReused);
        Assert.NotEqual(firstEndPoint, fresh.LocalEndPoint);
    }

    [Fact]
    public async Task Return_PastConnectionLifetime_ClosesInsteadOfKeeping()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.ConnectionLifetime = TimeSpan.FromSeconds(30));
        var lease = await pool.AcquireAsync(server.EndPoint);

        _time.Advance(TimeSpan.FromSeconds(31));
        lease.Dispose();

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Idle);
        Assert.Equal(0, usage.Active);
        Assert.Equal(1, usage.TimeWait); // we closed first, gracefully
    }

    [Fact]
    public async Task Reaper_ClosesExpiredIdleSockets_AndStopsOnceNothingIsLeft()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.IdleTimeout = TimeSpan.FromSeconds(8));
        var leases = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) };
        foreach (var lease in leases)
        {
            lease.Dispose();
        }

        Assert.Equal(2, pool.GetSnapshot().TotalIdle);
        Assert.True(pool.IsReaperRunning);

        _time.Advance(TimeSpan.FromSeconds(10)); // past the timeout and at least one reaper period

        Assert.Equal(0, pool.GetSnapshot().TotalIdle);
        Assert.Equal(2, pool.GetSnapshot().TotalTimeWait);
        Assert.True(pool.IsReaperRunning); // the destination and its TIME_WAIT charges are still there

        for (var i = 0; i < 70; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1)); // TIME_WAIT (60 s) runs out; the empty destination goes
        }

        Assert.Empty(pool.GetSnapshot().Tuples);
        Assert.Equal(0, pool.Destinations.Count);
        Assert.False(pool.IsReaperRunning);
    }

    [Fact]
    public async Task AcquireAsync_NoRoom_ThrowsAfterAcquireTimeoutOnTheFakeClock()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.AcquireTimeout = TimeSpan.FromSeconds(5), capacity: 2);
        var held = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) };

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        _time.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(waiting.IsCompleted); // the fake clock fires timers inside Advance
        _time.Advance(TimeSpan.FromSeconds(0.2));

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting);
        foreach (var lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task Snapshot_RefusedAcquires_CountsEachTimedOutCaller_WithTheTimeOfTheLast()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.AcquireTimeout = TimeSpan.FromSeconds(5), capacity: 1);
        var held = await pool.AcquireAsync(server.EndPoint);
        Assert.Equal(0, pool.GetSnapshot().RefusedAcquires);
        Assert.Null(pool.GetSnapshot().LastRefusal);

        var first = await TimeOutOneCallerAsync(pool, server.EndPoint);
        var afterFirst = pool.GetSnapshot();
        _time.Advance(TimeSpan.FromSeconds(10));
        var second = await TimeOutOneCallerAsync(pool, server.EndPoint);
        var afterSecond = pool.GetSnapshot();
        held.Dispose();
        (await pool.AcquireAsync(server.EndPoint)).Dispose(); // an idle hit is no refusal

        Assert.Equal(1, afterFirst.RefusedAcquires);
        Assert.Equal(first, afterFirst.LastRefusal);
        Assert.Equal(2, afterSecond.RefusedAcquires);
        Assert.Equal(second, afterSecond.LastRefusal);
        Assert.True(second > first);
        Assert.Equal(2, pool.GetSnapshot().RefusedAcquires);
        Assert.Contains("2 refused", pool.GetSnapshot().ToString(), StringComparison.Ordinal);
    }

    /// <summary>One caller waits out AcquireTimeout on the fake clock and is refused; returns the clock's time then.</summary>
    private async Task<DateTimeOffset> TimeOutOneCallerAsync(SocketPool pool, EndPoint destination)
    {
        var waiting = pool.AcquireAsync(destination).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        _time.Advance(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting);
        return _time.GetUtcNow();
    }

    [Fact]
    public async Task AcquireAsync_WaitingOnTimeWait_IsWokenWhenTheChargeExpires()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(
            o =>
            {
                o.TimeWaitDuration = TimeSpan.FromSeconds(60);
                o.AcquireTimeout = TimeSpan.FromSeconds(120);
            },
            capacity: 1);
        var lease = await pool.AcquireAsync(server.EndPoint);
        lease.Invalidate();
        lease.Dispose(); // graceful close by us: 60 s of TIME_WAIT on the only port
        Assert.Equal(1, pool.GetSnapshot().TotalTimeWait);

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        _time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(1, pool.GetSnapshot().PendingAcquires);
        Assert.False(waiting.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(1));

        var next = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(next.IsReused);
        next.Dispose();
    }

    [Fact]
    public async Task AcquireAsync_MaxConnectionsPerDestination_WaitsForAClose()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => { o.MaxConnectionsPerDestination = 1; o.CloseMode = CloseMode.Abortive; });
        var first = await pool.AcquireAsync(server.EndPoint);

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        Assert.False(waiting.IsCompleted);
        first.Invalidate();
        first.Dispose();

        var second = await waiting.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.False(second.IsReused);
        second.Dispose();
    }

    [Fact]
    public async Task Waiters_AreServedFirstComeFirstServed()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 1);
        var held = await pool.AcquireAsync(server.EndPoint);
        var order = new List<int>();
        var waiters = new List<Task>();
        for (var i = 0; i < 5; i++)
        {
            // The order of joining is forced: the next caller comes only once this one is in line.
            waiters.Add(AcquireRecordAndReturnAsync(i));
            await PoolWait.UntilPendingAsync(pool, i + 1);
        }

        held.Dispose();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal([0, 1, 2, 3, 4], order);

        async Task AcquireRecordAndReturnAsync(int id)
        {
            var lease = await pool.AcquireAsync(server.EndPoint);
            lock (order)
            {
                order.Add(id);
            }

            lease.Dispose();
        }
    }

    [Fact]
    public async Task KernelRefusal_ChargesTheTupleFull_ReadsTheCensusForTheLog_AndMovesToAnotherSource()
    {
        await using var server = new LoopbackServer();
        var connector = KernelRefusesS2ConnectsFromS3();
        var s2 = TestSources.S2;
        var census = new FakeKernelCensus(Enumerable.Range(40000, 100).Select(port => FakeKernelCensus.Socket(s2, port, server.EndPoint)));
        var options = new TuplePoolOptions { SourceAddresses = TestSources.Take(2), LocalPortRange = new PortRange(40000, 40099) };
        await using var pool = new SocketPool(options, _time, null, null, connector, census, TestKernel.Create());

        await using var lease = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(TestSources.S3, lease.LocalEndPoint.Address);
        var usage = pool.GetSnapshot().Tuples.Single(t => t.Source.Equals(s2));
        Assert.Equal(0, usage.Remaining); // the kernel's refusal charges the tuple full for 1 s
        Assert.Equal(1, census.Calls); // one question to the kernel, for this tuple
    }

    [Fact]
    public async Task KernelRefusal_TheKernelCount_LeavesOutForeignSocketsWhosePortIsOutsideThePoolsRange()
    {
        // A socket on the tuple whose local port lies outside the range the pool's sockets draw
        // from (here LocalPortRange 40000-40099, set per socket) takes no port from their search,
        // so it is no part of why the kernel refused, and the kernel count leaves it out.
        await using var server = new LoopbackServer();
        using var logs = new FakeLoggerProvider();
        using var loggerFactory = new LoggerFactory([logs]);
        var connector = KernelRefusesS2ConnectsFromS3();
        var s2 = TestSources.S2;
        int[] inside = [40000, 40042, 40099];
        int[] outside = [39999, 40100, 50000, 60999, 32768];
        var census = new FakeKernelCensus(inside.Concat(outside).Select(port => FakeKernelCensus.Socket(s2, port, server.EndPoint)));
        var options = new TuplePoolOptions { SourceAddresses = TestSources.Take(2), LocalPortRange = new PortRange(40000, 40099) };
        await using var pool = new SocketPool(options, _time, loggerFactory, null, connector, census, TestKernel.Create());

        await using var lease = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(TestSources.S3, lease.LocalEndPoint.Address);
        var correction = Assert.Single(logs.Collector.GetSnapshot(), r => r.Id.Id == 6);
        Assert.Equal("3", correction.GetStructuredStateValue("KernelCount"));
        Assert.Equal(0, pool.GetSnapshot().Tuples.Single(t => t.Source.Equals(s2)).Remaining); // the kernel's refusal is the authority
    }

    /// <summary>A connector whose kernel refuses every port from S2 (EADDRNOTAVAIL) and connects from S3.</summary>
    private static ISocketConnector KernelRefusesS2ConnectsFromS3()
    {
        var connector = Substitute.For<ISocketConnector>();
        connector.ConnectAsync(TestSources.S2, Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns<ValueTask<Socket>>(_ => throw new SocketException((int)SocketError.AddressNotAvailable));
        var real = FakeConnector.Create();
        connector.ConnectAsync(TestSources.S3, Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => real.ConnectAsync(call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1), call.ArgAt<CancellationToken>(2)));
        return connector;
    }
}
