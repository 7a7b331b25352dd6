using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// What becomes of a socket given back: lent again only when it is sound, else closed and charged
/// as the kernel holds its port. A socket the caller disposed is not lent again (with the check on
/// acquire off as well) and is charged TIME_WAIT; a half-close the peer answered is the kernel's
/// TIME_WAIT; a reset from the peer leaves no charge. Real loopback sockets in the test's own port
/// slice (<see cref="LoopbackPool"/>), a fake clock.
/// </summary>
public sealed class SocketPoolReturnTests
{
    private readonly FakeTimeProvider _time = new();

    /// <summary>A pool on <paramref name="time"/> that closes abortively.</summary>
    private static SocketPool CreateSut(TimeProvider time, Action<TuplePoolOptions>? configure = null)
        => LoopbackPool.Create(time, capacity: 10, CloseMode.Abortive, configure);

    /// <summary>A pool on <see cref="_time"/> that closes gracefully, charging 60 s of TIME_WAIT for each close it makes first.</summary>
    private SocketPool CreateSut(int capacity, Action<TuplePoolOptions>? configure = null, ISocketConnector? connector = null)
        => LoopbackPool.Create(_time, capacity, CloseMode.Graceful, o => { o.TimeWaitDuration = TimeSpan.FromSeconds(60); configure?.Invoke(o); }, connector);

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
    public async Task ValidateOnAcquireOff_ASocketTheCallerDisposed_IsNotLentAgain()
    {
        // Without the poll on acquire nothing looks at an idle socket before lending it, so the
        // return must see that the caller disposed it.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), configure: o => o.ValidateOnAcquire = false);
        var lease = await pool.AcquireAsync(server.EndPoint);
        lease.Socket.Dispose(); // misuse: nothing stops it
        lease.Dispose();

        await using var next = await pool.AcquireAsync(server.EndPoint);

        Assert.False(next.IsReused);
        Assert.Equal(0, next.Socket.Available); // a live socket: a disposed one throws here
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
