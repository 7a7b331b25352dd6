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
/// Bugs found in review of the core data path, each pinned by the situation that showed it.
/// Fake clock for budget time; real loopback sockets in the test's own port slice.
/// </summary>
public sealed class SocketPoolRegressionTests
{
    private readonly FakeTimeProvider _time = new();

    private SocketPool CreateSut(int capacity, Action<TuplePoolOptions>? configure = null, ISocketConnector? connector = null, IKernelCensus? census = null)
    {
        // The budget slice is `capacity` ports; real connects get a wider slice so the real
        // kernel's TIME_WAIT (on a frozen fake clock) never blocks them.
        var slice = PortSlices.Next(100);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(slice.First, slice.First + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(300),
            TimeWaitDuration = TimeSpan.FromSeconds(60),
        };
        configure?.Invoke(options);
        connector ??= new SocketConnector(TestKernel.Create(), slice);
        return new SocketPool(options, _time, null, null, connector, census ?? Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
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
    public async Task SocketDisposedByTheCaller_IsNotLentAgain_AndItsPortIsChargedAsTimeWait()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 10, o => o.IdleTimeout = Timeout.InfiniteTimeSpan);
        var lease = await pool.AcquireAsync(server.EndPoint);
        lease.Socket.Dispose(); // misuse: nothing stops it
        lease.Dispose();

        await using var next = await pool.AcquireAsync(server.EndPoint);

        Assert.False(next.IsReused);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(1, usage.Active);
        Assert.Equal(0, usage.Idle);
        Assert.Equal(1, usage.TimeWait); // how the caller closed it is unknown: charge the safe side
    }

    [Fact]
    public async Task HalfCloseByTheCaller_ThenPeerFin_IsChargedAsTheKernelsTimeWait()
    {
        using var listener = ListenerPorts.BindListener(IPAddress.Loopback);
        listener.Listen(16);
        await using var pool = CreateSut(capacity: 10);
        var lease = await pool.AcquireAsync((IPEndPoint)listener.LocalEndPoint!);
        using var accepted = listener.Accept();
        var local = lease.LocalEndPoint;
        lease.Socket.Shutdown(SocketShutdown.Send); // our FIN goes first
        Assert.Equal(0, accepted.Receive(new byte[16]));
        accepted.Dispose(); // the peer answers with its FIN
        Assert.True(lease.Socket.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead)); // it has arrived

        lease.Invalidate();
        lease.Dispose();

        var census = new KernelCensus(ProcFileSystem.Default).Read();
        Assert.Equal(1, census.Count(local.Address, (IPEndPoint)listener.LocalEndPoint!, TcpState.TimeWait));
        Assert.Equal(1, Assert.Single(pool.GetSnapshot().Tuples).TimeWait);
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

    [Fact]
    public async Task PeerResetBeforeTheLeaseIsUsed_FailsOnUse_ThenIsClosedWithoutACharge()
    {
        // Building the connection asks the kernel nothing (the endpoints are read on demand), so
        // a reset that lands first is met where Socket.ConnectAsync's caller would meet it: on
        // use. Returned, it must not be lent again, and its port is free (a reset leaves no TIME_WAIT).
        using var listener = ListenerPorts.BindListener(IPAddress.Loopback);
        listener.Listen(16);
        var slice = PortSlices.Next(10);
        var real = new SocketConnector(TestKernel.Create(), slice);
        var connector = Substitute.For<ISocketConnector>();
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => ConnectThenResetAsync(real, listener, call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1)));
        await using var pool = CreateSut(capacity: 10, connector: connector);
        var destination = (IPEndPoint)listener.LocalEndPoint!;

        var first = await pool.AcquireAsync(destination);
        Assert.Equal(destination, first.RemoteEndPoint);
        var error = Assert.Throws<SocketException>(() => first.Socket.Receive(new byte[1]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);
        first.Dispose();

        var second = await pool.AcquireAsync(destination); // validation finds the first dead and opens another
        Assert.False(second.IsReused);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(1, usage.Active);
        Assert.Equal(0, usage.TimeWait);
        Assert.Equal(usage.Capacity - 1, usage.Remaining);
        second.Dispose();
    }

    private static async ValueTask<Socket> ConnectThenResetAsync(SocketConnector real, Socket listener, IPAddress source, IPEndPoint destination)
    {
        var socket = await real.ConnectAsync(source, destination, default);
        using (var accepted = listener.Accept())
        {
            accepted.LingerState = new LingerOption(true, 0); // the server resets right after accept
        }

        Assert.True(socket.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead)); // the RST has arrived
        return socket;
    }
}
