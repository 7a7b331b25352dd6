using System.Net;
using System.Net.Sockets;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>The pool against real loopback sockets, sources 127.0.0.2–127.0.0.5, narrow port slices.</summary>
public sealed class SocketPoolTests
{
    private static SocketPool CreateSut(int sources, int ports, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(sources),
            LocalPortRange = PortSlices.Next(ports),
            AcquireTimeout = TimeSpan.FromSeconds(10),
        };
        configure?.Invoke(options);
        return new SocketPool(options);
    }

    [Fact]
    public async Task AcquireAsync_AfterReturn_ReusesTheSameSocket()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 20);

        IPEndPoint first;
        await using (var lease = await pool.AcquireAsync(server.EndPoint))
        {
            Assert.False(lease.IsReused);
            first = lease.LocalEndPoint;
            Assert.Equal(TestSources.S2, first.Address);
        }

        await using var again = await pool.AcquireAsync(server.EndPoint);
        Assert.True(again.IsReused);
        Assert.Equal(first, again.LocalEndPoint);

        // The server's accept loop counts on its own thread: wait until it has seen every client
        // endpoint the pool used (one, when the socket was reused) before reading its count.
        await server.WaitForAsync(first);
        await server.WaitForAsync(again.LocalEndPoint);
        Assert.Equal(1, server.AcceptedTotal);
    }

    [Fact]
    public async Task AcquireAsync_IdleSocketClosedByServer_IsReplacedWithoutError()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 20);
        IPEndPoint first;
        Socket socket;
        await using (var lease = await pool.AcquireAsync(server.EndPoint))
        {
            first = lease.LocalEndPoint;
            socket = lease.Socket;
        }

        await server.CloseAsync(first);
        WaitUntilReadable(socket); // the FIN has arrived

        await using var next = await pool.AcquireAsync(server.EndPoint);
        Assert.False(next.IsReused);
        Assert.NotEqual(first, next.LocalEndPoint);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.TimeWait); // the server closed first: the TIME_WAIT is its own
        Assert.Equal(1, usage.Active);
    }

    [Fact]
    public async Task AcquireAsync_SocketReturnedWithUnreadBytes_IsNotLentAgain()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 20);
        IPEndPoint first;
        await using (var lease = await pool.AcquireAsync(server.EndPoint))
        {
            first = lease.LocalEndPoint;
            await server.SendAsync(first, [1, 2, 3]); // a response the caller never read
            WaitUntilReadable(lease.Socket);
        }

        await using var next = await pool.AcquireAsync(server.EndPoint);
        Assert.False(next.IsReused);
        Assert.NotEqual(first, next.LocalEndPoint);
        Assert.Equal(0, next.Socket.Available);
    }

    [Fact]
    public async Task AcquireAsync_BytesArrivingWhileIdle_SocketIsNotLentAgain()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 20);
        IPEndPoint first;
        Socket socket;
        await using (var lease = await pool.AcquireAsync(server.EndPoint))
        {
            first = lease.LocalEndPoint;
            socket = lease.Socket;
        }

        await server.SendAsync(first, [42]);
        WaitUntilReadable(socket); // arrived while idle

        await using var next = await pool.AcquireAsync(server.EndPoint);
        Assert.NotEqual(first, next.LocalEndPoint);
    }

    [Fact]
    public async Task Invalidate_ClosesInsteadOfReturning()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 20, o => o.CloseMode = CloseMode.Abortive);
        IPEndPoint first;
        await using (var lease = await pool.AcquireAsync(server.EndPoint))
        {
            first = lease.LocalEndPoint;
            lease.Invalidate();
        }

        Assert.Empty(pool.GetSnapshot().Tuples); // abortive: freed at once, so the tuple holds nothing and is not listed
        await using var next = await pool.AcquireAsync(server.EndPoint);
        Assert.False(next.IsReused);
    }

    [Fact]
    public async Task Dispose_Twice_IsANoOpAndAStaleCopyThrows()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 20);
        var lease = await pool.AcquireAsync(server.EndPoint);
        var copy = lease;
        lease.Dispose();
        lease.Dispose();
        copy.Dispose();

        var next = await pool.AcquireAsync(server.EndPoint); // the same socket, lent again
        Assert.True(next.IsReused);
        Assert.Throws<ObjectDisposedException>(() => copy.Socket);
        Assert.Throws<ObjectDisposedException>(() => copy.Stream);
        Assert.Throws<ObjectDisposedException>(() => copy.LocalEndPoint);
        Assert.Throws<ObjectDisposedException>(copy.Invalidate);
        copy.Dispose(); // must not return the socket now lent to `next`
        Assert.Equal(1, pool.GetSnapshot().TotalActive);
        Assert.True(next.Socket.Connected);
        next.Dispose();
        Assert.Equal(1, pool.GetSnapshot().TotalIdle);
    }

    [Fact]
    public async Task Lease_Stream_RoundTripsBytes()
    {
        await using var server = new LoopbackServer(echo: true);
        await using var pool = CreateSut(1, 20);
        await using var lease = await pool.AcquireAsync(server.EndPoint);

        await lease.Stream.WriteAsync("ping"u8.ToArray());
        var buffer = new byte[4];
        await lease.Stream.ReadExactlyAsync(buffer);

        Assert.Equal("ping"u8.ToArray(), buffer);
    }

    [Fact]
    public async Task AcquireAsync_FourSourcesHundredPorts_HoldsFourHundredAndThe401stWaitsForAReturn()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(4, 100, o => o.AcquireTimeout = TimeSpan.FromSeconds(20));
        var leases = new List<SocketLease>();
        for (var i = 0; i < 400; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint));
        }

        Assert.Equal(4, leases.Select(l => l.LocalEndPoint.Address).Distinct().Count());
        Assert.All(pool.GetSnapshot().Tuples, t => Assert.Equal(0, t.Remaining));

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        Assert.False(waiting.IsCompleted);

        var returned = leases[123];
        var returnedEndPoint = returned.LocalEndPoint;
        returned.Dispose();
        var lease401 = await waiting;
        Assert.True(lease401.IsReused);
        Assert.Equal(returnedEndPoint, lease401.LocalEndPoint);
        leases[123] = lease401;

        foreach (var lease in leases)
        {
            lease.Dispose();
        }

        var snapshot = pool.GetSnapshot();
        Assert.Equal(0, snapshot.TotalActive);
        Assert.Equal(4, snapshot.Tuples.Count);
    }

    [Fact]
    public async Task AcquireAsync_NoRoomWithinAcquireTimeout_ThrowsTupleBudgetExhausted()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(2, 10, o => o.AcquireTimeout = TimeSpan.FromMilliseconds(300));
        var leases = new List<SocketLease>();
        for (var i = 0; i < 20; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint));
        }

        var error = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.Equal(SocketError.AddressNotAvailable, error.SocketErrorCode);
        Assert.Equal(server.EndPoint, error.Destination);
        Assert.Equal(2, error.Usage.Count);
        Assert.Contains("127.0.0.2", error.Message, StringComparison.Ordinal);
        Assert.Equal(RefusalCause.ActiveConnections, error.Cause); // every port is leased out
        Assert.Contains("add source addresses (TuplePoolOptions.SourceAddresses)", error.Message, StringComparison.Ordinal);
        leases.ForEach(l => l.Dispose());
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task AcquireAsync_CancelledWhileWaiting_ThrowsAndLeaksNothing()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 5);
        var leases = new List<SocketLease>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint));
        }

        using var cts = new CancellationTokenSource();
        var waiting = pool.AcquireAsync(server.EndPoint, cts.Token).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, pool.GetSnapshot().PendingAcquires);

        // The cancelled waiter must not swallow the next wake: a later waiter still gets the socket.
        var next = pool.AcquireAsync(server.EndPoint).AsTask();
        leases[0].Dispose();
        var lease = await next;
        Assert.True(lease.IsReused);
        lease.Dispose();
        leases.Skip(1).ToList().ForEach(l => l.Dispose());
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(5, usage.Idle);
    }

    [Fact]
    public async Task AcquireAsync_DnsEndPoint_ResolvesAndBudgetsPerAddress()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(2, 20);
        var name = new DnsEndPoint("localhost", server.EndPoint.Port);

        await using (var lease = await pool.AcquireAsync(name))
        {
            Assert.Equal(server.EndPoint, lease.RemoteEndPoint);
        }

        await using var again = await pool.AcquireAsync(name);
        Assert.True(again.IsReused);
        Assert.All(pool.GetSnapshot().Tuples, t => Assert.Equal(server.EndPoint, t.Destination));
    }

    [Fact]
    public async Task DisposeAsync_FailsWaitersAndClosesSocketsReturnedLater()
    {
        await using var server = new LoopbackServer();
        var pool = CreateSut(1, 3);
        var leases = new List<SocketLease>();
        for (var i = 0; i < 3; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint));
        }

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await pool.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());
        var socket = leases[0].Socket;
        leases.ForEach(l => l.Dispose());
        Assert.Throws<ObjectDisposedException>(() => socket.Available);
        Assert.Equal(0, pool.GetSnapshot().TotalIdle);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task AcquireAsync_RefusedDestination_ThrowsSocketExceptionNamingTheTupleAndReleasesTheBudget()
    {
        // A port nobody listens on: bound but never listening, so connects to it are refused.
        using var probe = ListenerPorts.BindListener(IPAddress.Loopback);
        var port = ((IPEndPoint)probe.LocalEndPoint!).Port;

        await using var pool = CreateSut(2, 10);
        var error = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, port)).AsTask());

        Assert.IsNotType<TupleBudgetExhaustedException>(error);
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.Contains($"127.0.0.1:{port}", error.Message, StringComparison.Ordinal);
        Assert.All(pool.GetSnapshot().Tuples, t => Assert.Equal(t.Capacity, t.Remaining));
    }

    [Fact]
    public async Task AcquireAsync_BadDestination_ThrowsArgumentException()
    {
        await using var pool = CreateSut(1, 10);

        await Assert.ThrowsAsync<ArgumentException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, 0)).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Any, 80)).AsTask());
        await Assert.ThrowsAsync<ArgumentNullException>(() => pool.AcquireAsync(null!).AsTask());
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsNamingTheField()
    {
        var error = Assert.Throws<ArgumentException>(() => new SocketPool(new TuplePoolOptions { MaxConnectAttempts = 0 }));

        Assert.Contains("MaxConnectAttempts", error.Message, StringComparison.Ordinal);
        Assert.Equal("options", error.ParamName);
    }

    [Fact]
    public void Constructor_SourceNotAssignedToThisMachine_ThrowsWhatStartUpValidationSays()
    {
        // new SocketPool(...) refuses a source DI's ValidateOnStart rejects. The probe
        // binds a socket to the address (port 0) and closes it: nothing is sent.
        var options = new TuplePoolOptions { SourceAddresses = [TestSources.S2, IPAddress.Parse("192.0.2.1")] };

        var error = Assert.Throws<ArgumentException>(() => new SocketPool(options));
        var fleet = Assert.Throws<ArgumentException>(() => new SocketPool(WithNat(options), NSubstitute.Substitute.For<IFleetBudget>()));
        var startUp = new TuplePool.Hosting.ValidateTuplePoolOptions().Validate(null, options);

        var failure = Assert.Single(startUp.Failures!);
        Assert.Equal("TuplePool: SourceAddresses[1]: 192.0.2.1 is not assigned to this machine (binding a socket to it failed with EADDRNOTAVAIL); use an address that `ip address` lists, or leave SourceAddresses empty to let the kernel choose.", failure);
        Assert.StartsWith("TuplePoolOptions are not valid: " + failure["TuplePool: ".Length..], error.Message, StringComparison.Ordinal);
        Assert.Equal("options", error.ParamName);
        Assert.Contains("192.0.2.1 is not assigned to this machine", fleet.Message, StringComparison.Ordinal);

        static TuplePoolOptions WithNat(TuplePoolOptions options)
        {
            var copy = options.Clone();
            copy.Nat = new NatOptions { PortsPerDestination = 10 };
            return copy;
        }
    }

    [Fact]
    public async Task Constructor_AssignedSources_AreProbedWithoutTraffic()
    {
        await using var server = new LoopbackServer();

        await using (var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(2), LocalPortRange = PortSlices.Next(2) }))
        {
            Assert.Equal(2, pool.GetSnapshot().Sources.Count);
        }

        Assert.Equal(0, server.AcceptedTotal);
    }

    [Fact]
    public async Task Dispose_Synchronous_ClosesIdleSocketsLikeDisposeAsync()
    {
        await using var server = new LoopbackServer();
        var pool = CreateSut(1, 10);
        var lease = await pool.AcquireAsync(server.EndPoint);
        var socket = lease.Socket;
        lease.Dispose();
        Assert.Equal(1, pool.GetSnapshot().TotalIdle);

        pool.Dispose();
        pool.Dispose();

        Assert.Equal(0, pool.GetSnapshot().TotalIdle);
        Assert.Throws<ObjectDisposedException>(() => socket.Available);
    }

    /// <summary>Blocks until the peer's FIN or bytes have reached <paramref name="socket"/> (at most 10 s); reads nothing.</summary>
    private static void WaitUntilReadable(Socket socket)
        => Assert.True(socket.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead));
}
