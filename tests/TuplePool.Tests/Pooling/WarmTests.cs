using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Http;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// <see cref="SocketPool.WarmAsync"/> and <see cref="TuplePoolOptions.MinIdlePerDestination"/>:
/// real loopback connections, the budget from a fake kernel, time from a <see cref="FakeTimeProvider"/>.
/// </summary>
public sealed class WarmTests
{
    private readonly FakeTimeProvider _time = new();

    private SocketPool CreateSut(Action<TuplePoolOptions>? configure = null, int capacity = 100, ISocketConnector? connector = null)
    {
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(40000, 40000 + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(5),
            IdleTimeout = TimeSpan.FromSeconds(600),
        };
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, connector ?? FakeConnector.Create(), Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
    }

    [Fact]
    public async Task WarmAsync_Four_OpensFourIdleConnectionsTheServerHolds()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = PortSlices.Next(20),
            AcquireTimeout = TimeSpan.FromSeconds(10),
        });

        Assert.Equal(4, await pool.WarmAsync(server.EndPoint, 4, TestContext.Current.CancellationToken));
        Assert.Equal(4, pool.GetSnapshot().TotalIdle);
        Assert.Equal(0, await pool.WarmAsync(server.EndPoint, 4, TestContext.Current.CancellationToken)); // still idle: none more

        // The four acquires are lent the warmed sockets, and the server accepted exactly those four.
        var leases = new List<SocketLease>();
        for (var i = 0; i < 4; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken));
        }

        Assert.All(leases, l => Assert.True(l.IsReused));
        foreach (var lease in leases)
        {
            await server.WaitForAsync(lease.LocalEndPoint);
        }

        Assert.Equal(4, server.AcceptedTotal);
        Assert.Equal(4, leases.Select(l => l.LocalEndPoint).Distinct().Count());
        foreach (var lease in leases)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task WarmAsync_FullBudget_StopsAndReturnsWhatItOpened_OtherCallersUnaffected()
    {
        await using var server = new LoopbackServer();
        await using var other = new LoopbackServer();
        await using var pool = CreateSut(capacity: 4);
        var capacity = pool.CapacityPerTuple;
        var held = new List<SocketLease>();
        for (var i = 0; i < capacity - 2; i++)
        {
            held.Add(await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken));
        }

        var opened = await pool.WarmAsync(server.EndPoint, 10, TestContext.Current.CancellationToken);

        Assert.Equal(2, opened);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(capacity - 2, usage.Active);
        Assert.Equal(2, usage.Idle);
        Assert.Equal(0, usage.Remaining);
        Assert.Equal(0, await pool.WarmAsync(server.EndPoint, 10, TestContext.Current.CancellationToken)); // full: no room, no throw

        // An acquire to the same destination takes a warmed one; another destination has its own tuple.
        await using (var same = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken))
        {
            Assert.True(same.IsReused);
        }

        await using (var unrelated = await pool.AcquireAsync(other.EndPoint, TestContext.Current.CancellationToken))
        {
            Assert.False(unrelated.IsReused);
        }

        foreach (var lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task WarmAsync_MoreThanMaxIdle_StopsAtMaxIdlePerDestination()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.MaxIdlePerDestination = 3);

        Assert.Equal(3, await pool.WarmAsync(server.EndPoint, 10, TestContext.Current.CancellationToken));
        Assert.Equal(3, pool.GetSnapshot().TotalIdle);
    }

    [Fact]
    public async Task WarmAsync_MoreThanMaxConnections_StopsAtMaxConnectionsPerDestination()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.MaxConnectionsPerDestination = 3);
        await using var lease = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);

        Assert.Equal(2, await pool.WarmAsync(server.EndPoint, 10, TestContext.Current.CancellationToken));
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(1, usage.Active);
        Assert.Equal(2, usage.Idle);
    }

    [Fact]
    public async Task WarmAsync_NegativeCount_Throws_ZeroOpensNone()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut();

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await pool.WarmAsync(server.EndPoint, -1));
        Assert.Equal(0, await pool.WarmAsync(server.EndPoint, 0, TestContext.Current.CancellationToken));
        Assert.DoesNotContain(pool.GetSnapshot().Tuples, t => t.Active + t.Idle != 0);
    }

    [Fact]
    public async Task WarmAsync_Refused_ThrowsSocketExceptionAndReleasesTheBudget()
    {
        using var closed = ListenerPorts.BindListener(IPAddress.Loopback); // bound, never listening: refused
        var endPoint = (IPEndPoint)closed.LocalEndPoint!;
        await using var pool = CreateSut(o => o.MaxConnectAttempts = 1);

        await Assert.ThrowsAnyAsync<SocketException>(async () => await pool.WarmAsync(endPoint, 2, TestContext.Current.CancellationToken));

        Assert.Empty(pool.GetSnapshot().Tuples); // the refused attempts hold nothing
        Assert.Equal(0, pool.Destinations.Find(endPoint)!.OpenCount);
    }

    [Fact]
    public async Task WarmAsync_CancelledMidConnect_ThrowsAndLeaksNothing()
    {
        await using var server = new LoopbackServer();
        var connector = new GatedConnector(gateFromCall: 2);
        await using var pool = CreateSut(connector: connector);
        using var cts = new CancellationTokenSource();

        var warm = pool.WarmAsync(server.EndPoint, 3, cts.Token).AsTask();
        await connector.Entered.Task.WaitAsync(TestContext.Current.CancellationToken); // the second connect is in progress
        cts.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => warm);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(1, usage.Idle);   // the first stays warm
        Assert.Equal(0, usage.Active);
        Assert.Equal(usage.Capacity - 1, usage.Remaining); // the cancelled attempt's port is back
        Assert.Equal(1, pool.Destinations.Find(server.EndPoint)!.OpenCount);
        Assert.True(connector.CancelledSocketClosed);
        var warmed = Assert.Single(connector.Returned);
        Assert.True(warmed.Connected); // the one still idle is open; nothing else was made
    }

    [Fact]
    public async Task WarmAsync_PoolDisposedMidConnect_ThrowsObjectDisposedAndClosesEverything()
    {
        await using var server = new LoopbackServer();
        var connector = new GatedConnector(gateFromCall: 2);
        var pool = CreateSut(connector: connector);

        var warm = pool.WarmAsync(server.EndPoint, 3, TestContext.Current.CancellationToken).AsTask();
        await connector.Entered.Task.WaitAsync(TestContext.Current.CancellationToken);
        await pool.DisposeAsync(); // aborts the connect in flight, which never completes

        await Assert.ThrowsAsync<ObjectDisposedException>(() => warm);
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await pool.WarmAsync(server.EndPoint, 1));
        Assert.True(connector.CancelledSocketClosed);
        Assert.Single(connector.Returned); // the one warmed before disposal, closed with the pool
        Assert.All(connector.Returned, socket => Assert.Throws<ObjectDisposedException>(() => socket.Available));
        Assert.All(pool.GetSnapshot().Tuples, t => Assert.Equal(0, t.Active + t.Idle));
    }

    [Fact]
    public async Task WarmAsync_WithAWaiter_HandsTheWarmedConnectionToIt()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.MaxConnectionsPerDestination = 2);
        var first = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);
        var second = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);
        var waiting = pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken).AsTask();
        Assert.Equal(1, pool.GetSnapshot().PendingAcquires);

        // Closing one frees a slot: the warm opens into it and the waiter is served (by the hand-off or the wake).
        first.Invalidate();
        first.Dispose();
        var opened = await pool.WarmAsync(server.EndPoint, 1, TestContext.Current.CancellationToken);

        await using var lease = await waiting.WaitAsync(TestContext.Current.CancellationToken);
        Assert.InRange(opened, 0, 1);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(2, usage.Active);
        Assert.Equal(0, usage.Idle);
        second.Dispose();
    }

    [Fact]
    public async Task Reaper_MinIdle_TopsUpADestinationInUse_AtMostTwoPerSweep()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.MinIdlePerDestination = 5);
        (await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken)).Dispose();
        var destination = pool.Destinations.Find(server.EndPoint)!;
        Assert.Equal(1, destination.IdleCount);

        pool.Reaper.Sweep();
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1 + DestinationPoolMaxTopUp, destination.IdleCount);

        pool.Reaper.Sweep();
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        pool.Reaper.Sweep();
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(5, destination.IdleCount);

        pool.Reaper.Sweep(); // at the minimum: nothing more
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(5, pool.GetSnapshot().TotalIdle);
    }

    [Fact]
    public async Task Reaper_MinIdle_LeavesAWarmedOnlyOrLongUnusedDestinationAlone()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(o => o.MinIdlePerDestination = 3);
        Assert.Equal(1, await pool.WarmAsync(server.EndPoint, 1, TestContext.Current.CancellationToken));
        var destination = pool.Destinations.Find(server.EndPoint)!;

        pool.Reaper.Sweep(); // warmed, never acquired from: not "in use"
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1, destination.IdleCount);

        (await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken)).Dispose();
        var acquiredAt = _time.GetTimestamp();
        destination.TopUp(3, acquiredAt); // the sweep that sees the acquire: in use, topped up
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(1 + DestinationPoolMaxTopUp, destination.IdleCount);

        var closing = await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken);
        closing.Invalidate();
        closing.Dispose();
        var idle = destination.IdleCount;
        var later = acquiredAt + TuplePool.Internal.Timestamps.ToTicks(TuplePool.Pooling.PoolSettings.InUseWindow, _time);
        destination.TopUp(5, later - 1); // the flag was raised again by that acquire: in use once more
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        var afterRecent = destination.IdleCount;
        Assert.True(afterRecent > idle);

        // No acquire for the in-use window: left to drain and be evicted, though still below the minimum.
        destination.TopUp(5, later - 1 + TuplePool.Internal.Timestamps.ToTicks(TuplePool.Pooling.PoolSettings.InUseWindow, _time));
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken);
        Assert.Equal(afterRecent, destination.IdleCount);
        Assert.True(afterRecent < 5);
    }

    [Fact]
    public async Task Reaper_MinIdle_ConnectFails_IsLoggedNotThrown()
    {
        using var closed = ListenerPorts.BindListener(IPAddress.Loopback);
        var endPoint = (IPEndPoint)closed.LocalEndPoint!;
        await using var server = new LoopbackServer();
        var connector = Substitute.For<ISocketConnector>();
        var real = FakeConnector.Create();
        var calls = 0;
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => Interlocked.Increment(ref calls) == 1
                ? real.ConnectAsync(call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1), call.ArgAt<CancellationToken>(2))
                : ValueTask.FromException<Socket>(new SocketException((int)SocketError.ConnectionRefused)));
        await using var pool = CreateSut(o => { o.MinIdlePerDestination = 2; o.MaxConnectAttempts = 1; }, connector: connector);
        (await pool.AcquireAsync(server.EndPoint, TestContext.Current.CancellationToken)).Dispose();
        var destination = pool.Destinations.Find(server.EndPoint)!;

        pool.Reaper.Sweep();
        await destination.LastTopUp.WaitAsync(TestContext.Current.CancellationToken); // completes, not faulted

        Assert.True(destination.LastTopUp.IsCompletedSuccessfully);
        Assert.Equal(1, destination.IdleCount);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(usage.Capacity - 1, usage.Remaining);
    }

    [Fact]
    public async Task HttpClient_AfterWarmingFour_FourConcurrentRequestsUseTheWarmedSockets()
    {
        await using var server = await TestHttpServer.StartAsync(TestContext.Current.CancellationToken);
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = PortSlices.Next(20),
            AcquireTimeout = TimeSpan.FromSeconds(10),
        });
        Assert.Equal(4, await pool.WarmAsync(server.EndPoint, 4, TestContext.Current.CancellationToken));
        using var client = new HttpClient(new SocketsHttpHandler().UseTuplePool(pool)) { BaseAddress = server.BaseAddress };

        // /hold keeps each request busy until all four arrived, so HttpClient needs four connections.
        var requests = Enumerable.Range(0, 4).Select(_ => client.GetStringAsync("/hold", TestContext.Current.CancellationToken)).ToList();
        while (server.Held < 4)
        {
            await Task.Yield();
        }

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        server.Release();
        await Task.WhenAll(requests);

        // Had HttpClient opened its own, the four warmed ones would still be idle beside four active.
        Assert.Equal(4, usage.Active);
        Assert.Equal(0, usage.Idle);
        Assert.Equal(usage.Capacity - 4, usage.Remaining);
    }

    private const int DestinationPoolMaxTopUp = TuplePool.Pooling.DestinationPool.MaxTopUpOpensPerSweep;

    /// <summary>Real connects, except that from call <c>gateFromCall</c> on it signals <see cref="Entered"/> and waits for <see cref="Open"/> or cancellation.</summary>
    private sealed class GatedConnector(int gateFromCall) : ISocketConnector
    {
        private readonly ISocketConnector _real = FakeConnector.Create();
        private int _calls;

        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Open { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public bool CancelledSocketClosed { get; private set; }

        /// <summary>Every socket handed to the pool.</summary>
        public System.Collections.Concurrent.ConcurrentQueue<Socket> Returned { get; } = new();

        public async ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _calls) < gateFromCall)
            {
                var real = await _real.ConnectAsync(source, destination, cancellationToken);
                Returned.Enqueue(real);
                return real;
            }

            var socket = new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                Entered.TrySetResult();
                await Open.Task.WaitAsync(cancellationToken);
                await socket.ConnectAsync(destination, cancellationToken);
                Returned.Enqueue(socket);
                return socket;
            }
            catch
            {
                socket.Dispose();
                CancelledSocketClosed = true;
                throw;
            }
        }
    }
}
