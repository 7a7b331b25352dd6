using System.Net;
using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Platform;
using TuplePool.Pooling;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// Each kind of close on real loopback sockets, the closer's charge checked against the kernel:
/// the client-side TIME_WAIT entries for the test's own listener in <c>/proc/net/tcp{,6}</c>
/// (the listener's port is the test's alone, so nothing else is counted).
/// </summary>
public sealed class ConnectionCloserTests : IDisposable
{
    private readonly Socket _listener;
    private readonly List<Socket> _serverSides = [];

    public ConnectionCloserTests()
    {
        _listener = ListenerPorts.BindListener(IPAddress.Loopback);
        _listener.Listen(16);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
    }

    private IPEndPoint EndPoint { get; }

    private int? _timeWaitBefore;

    public void Dispose()
    {
        foreach (var socket in _serverSides)
        {
            socket.Dispose();
        }

        _listener.Dispose();
    }

    private async Task<(Socket Client, Socket Server)> ConnectAsync()
    {
        // TIME_WAIT left on this listener's port by an earlier process (another run of the suite
        // that drew the same port within the last 60 s) is not this test's: count from here.
        _timeWaitBefore ??= TimeWaitInKernel();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = _listener.AcceptAsync();
        await client.ConnectAsync(EndPoint);
        var server = await accept;
        _serverSides.Add(server);
        return (client, server);
    }

    private int TimeWaitInKernel() => new KernelCensus(ProcFileSystem.Default).Read().Count(IPAddress.Any, EndPoint, TcpState.TimeWait);

    /// <summary>The server answers our FIN with its own and closes; returns what its read saw.</summary>
    private static async Task<string> ServerFinishesAsync(Socket server)
    {
        var buffer = new byte[64];
        string seen;
        try
        {
            var read = await server.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(TimeSpan.FromSeconds(10));
            seen = read == 0 ? "fin" : "data";
        }
        catch (SocketException e)
        {
            seen = e.SocketErrorCode.ToString();
        }

        server.Dispose();
        return seen;
    }

    private async Task AssertTimeWaitInKernelAsync(int expected)
    {
        // The kernel files the TIME_WAIT entry when the peer's FIN lands, a moment after the
        // server side closed: look again for up to 5 s before calling it missing.
        var before = _timeWaitBefore ?? 0;
        for (var i = 0; i < 500 && TimeWaitInKernel() - before != expected; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(expected, TimeWaitInKernel() - before);
    }

    [Fact]
    public async Task Idle_ThisSideClosesFirst_ChargesTimeWait_AsTheKernelKeepsIt()
    {
        var (client, server) = await ConnectAsync();

        Assert.Equal(ReleaseKind.TimeWait, ConnectionCloser.Close(client, CloseMode.Graceful));

        Assert.Equal("fin", await ServerFinishesAsync(server));
        await AssertTimeWaitInKernelAsync(1);
    }

    [Fact]
    public async Task PendingRead_ThisSideClosesFirst_StaysGraceful_FinNotReset_AndChargesTimeWait()
    {
        // HttpClient's idle HTTP/1.1 and HTTP/2 connections: a read is pending when the
        // connection is dropped. Socket.Dispose alone would send RST (nothing left) here.
        var (client, server) = await ConnectAsync();
        var pending = client.ReceiveAsync(new byte[16].AsMemory()).AsTask();

        Assert.Equal(ReleaseKind.TimeWait, ConnectionCloser.Close(client, CloseMode.Graceful));

        Assert.Equal("fin", await ServerFinishesAsync(server));
        await AssertTimeWaitInKernelAsync(1);
        await Assert.ThrowsAnyAsync<Exception>(() => pending);
    }

    [Fact]
    public async Task PeerClosedFirst_ChargesNothing_TheTimeWaitIsThePeers()
    {
        var (client, server) = await ConnectAsync();
        server.Dispose();
        Assert.Equal(0, await client.ReceiveAsync(new byte[16]));

        Assert.Equal(ReleaseKind.PeerClosedFirst, ConnectionCloser.Close(client, CloseMode.Graceful));

        await AssertTimeWaitInKernelAsync(0);
    }

    [Fact]
    public async Task PeerReset_AfterTheCallerReadTheReset_ChargesNothing()
    {
        // Reading ECONNRESET clears SO_ERROR: the socket is in CLOSE with no error pending.
        var (client, server) = await ConnectAsync();
        await client.SendAsync(new byte[10]);
        Assert.Equal(10, await server.ReceiveAsync(new byte[16]));
        server.LingerState = new LingerOption(true, 0);
        server.Dispose();
        var error = await Assert.ThrowsAsync<SocketException>(async () => await client.ReceiveAsync(new byte[16]));
        Assert.Equal(SocketError.ConnectionReset, error.SocketErrorCode);

        Assert.Equal(ReleaseKind.Free, ConnectionCloser.Close(client, CloseMode.Graceful));

        await AssertTimeWaitInKernelAsync(0);
    }

    [Fact]
    public async Task PeerReset_NotYetRead_ChargesNothing()
    {
        var (client, server) = await ConnectAsync();
        server.LingerState = new LingerOption(true, 0);
        server.Dispose();
        for (var i = 0; i < 500 && !ReadinessProbe.IsReadable(client); i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(ReleaseKind.Free, ConnectionCloser.Close(client, CloseMode.Graceful));

        await AssertTimeWaitInKernelAsync(0);
    }

    [Fact]
    public async Task CallerHalfClosed_PeerFinAlreadyIn_ChargesTheTimeWaitTheKernelAlreadyMade()
    {
        var (client, server) = await ConnectAsync();
        await client.SendAsync(new byte[10]);
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("data", await ServerFinishesAsync(server)); // reads the bytes, then closes
        Assert.Equal(0, await client.ReceiveAsync(new byte[16]));
        await AssertTimeWaitInKernelAsync(1); // behind the still-open descriptor, state CLOSE

        Assert.Equal(ReleaseKind.TimeWait, ConnectionCloser.Close(client, CloseMode.Graceful));

        await AssertTimeWaitInKernelAsync(1);
    }

    [Fact]
    public async Task CallerHalfClosed_PeerFinNotYetIn_ChargesTimeWait()
    {
        var (client, server) = await ConnectAsync();
        client.Shutdown(SocketShutdown.Send);

        Assert.Equal(ReleaseKind.TimeWait, ConnectionCloser.Close(client, CloseMode.Graceful));

        Assert.Equal("fin", await ServerFinishesAsync(server));
        await AssertTimeWaitInKernelAsync(1);
    }

    [Fact]
    public async Task UnreadBytes_ResetAtOnce_ChargesNothing()
    {
        var (client, server) = await ConnectAsync();
        await server.SendAsync(new byte[10]);
        for (var i = 0; i < 500 && client.Available == 0; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(ReleaseKind.Free, ConnectionCloser.Close(client, CloseMode.Graceful));

        Assert.Equal(nameof(SocketError.ConnectionReset), await ServerFinishesAsync(server));
        await AssertTimeWaitInKernelAsync(0);
    }

    [Fact]
    public async Task Abortive_AlwaysFree_NothingInTheKernel()
    {
        var (client, server) = await ConnectAsync();

        Assert.Equal(ReleaseKind.Free, ConnectionCloser.Close(client, CloseMode.Abortive));

        Assert.Equal(nameof(SocketError.ConnectionReset), await ServerFinishesAsync(server));
        await AssertTimeWaitInKernelAsync(0);
    }
}
