using System.Net;
using System.Net.Sockets;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// The connector on real loopback sockets, through both connect paths: the direct connect (Linux:
/// non-blocking connect(), one poll(), finished on the calling thread) and the runtime's
/// <see cref="Socket.ConnectAsync(EndPoint, CancellationToken)"/>. Whatever the path, the caller
/// gets the same socket state and the same errors.
/// </summary>
public sealed class SocketConnectorTests
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(20);

    private static SocketConnector CreateSut(bool connectDirectly, PortRange? range = null)
        => new(TestKernel.Create(), range ?? PortSlices.Next(20), connectDirectly);

    public static TheoryData<bool> BothPaths => new() { true, false };

    [Fact]
    public void Constructor_OnLinux_ConnectsDirectlyByDefault()
    {
        var sut = new SocketConnector(TestKernel.Create(), poolRange: null);

        Assert.Equal(OperatingSystem.IsLinux(), sut.ConnectsDirectly);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_Loopback_ReturnsAConnectedBlockingSocketThatCarriesData(bool connectDirectly)
    {
        await using var server = new LoopbackServer(echo: true);
        var range = PortSlices.Next(20);
        var sut = CreateSut(connectDirectly, range);

        using var socket = await sut.ConnectAsync(IPAddress.Any, server.EndPoint, CancellationToken.None);

        Assert.True(socket.Connected);
        Assert.True(socket.Blocking);
        Assert.True(socket.NoDelay);
        Assert.Equal(server.EndPoint, socket.RemoteEndPoint);
        var local = Assert.IsType<IPEndPoint>(socket.LocalEndPoint);
        Assert.InRange(local.Port, range.First, range.Last);

        // A blocking round trip and an async one, through a NetworkStream (which checks Connected).
        using var stream = new NetworkStream(socket, ownsSocket: false);
        stream.Write("ping"u8);
        var buffer = new byte[4];
        await stream.ReadExactlyAsync(buffer).AsTask().WaitAsync(Guard);
        Assert.Equal("ping"u8.ToArray(), buffer);
        await stream.WriteAsync("pong"u8.ToArray());
        stream.ReadExactly(buffer);
        Assert.Equal("pong"u8.ToArray(), buffer);
        SocketOptions.SetAbortiveClose(socket);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_IPv6Loopback_Connects(bool connectDirectly)
    {
        await using var server = new LoopbackServer(IPAddress.IPv6Loopback);
        var sut = CreateSut(connectDirectly);

        using var socket = await sut.ConnectAsync(IPAddress.IPv6Any, server.EndPoint, CancellationToken.None);

        Assert.True(socket.Connected);
        Assert.Equal(server.EndPoint, socket.RemoteEndPoint);
        SocketOptions.SetAbortiveClose(socket);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_ExplicitSource_BindsIt(bool connectDirectly)
    {
        await using var server = new LoopbackServer();
        var source = TestSources.Take(1)[0];
        var sut = CreateSut(connectDirectly);

        using var socket = await sut.ConnectAsync(source, server.EndPoint, CancellationToken.None);

        Assert.Equal(source, Assert.IsType<IPEndPoint>(socket.LocalEndPoint).Address);
        await server.WaitForAsync((IPEndPoint)socket.LocalEndPoint!);
        SocketOptions.SetAbortiveClose(socket);
    }

    [Fact]
    public async Task ConnectAsync_ClosedPort_FailsExactlyAsTheRuntimeConnectDoes()
    {
        // Bound, never listening: the kernel answers a SYN with RST, and no one else takes the port.
        using var holder = ListenerPorts.BindListener(IPAddress.Loopback);
        var closed = (IPEndPoint)holder.LocalEndPoint!;
        var direct = await Assert.ThrowsAsync<SocketException>(() => CreateSut(connectDirectly: true).ConnectAsync(IPAddress.Any, closed, CancellationToken.None).AsTask());
        var runtime = await Assert.ThrowsAsync<SocketException>(() => CreateSut(connectDirectly: false).ConnectAsync(IPAddress.Any, closed, CancellationToken.None).AsTask());

        Assert.Equal(SocketError.ConnectionRefused, direct.SocketErrorCode);
        Assert.Equal(runtime.SocketErrorCode, direct.SocketErrorCode);
        Assert.Equal(runtime.Message, direct.Message);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_OnlyPortOfTheRangeInUse_FailsWithAddressNotAvailable(bool connectDirectly)
    {
        await using var server = new LoopbackServer();
        var sut = CreateSut(connectDirectly, PortSlices.Next(1));
        using var first = await sut.ConnectAsync(IPAddress.Any, server.EndPoint, CancellationToken.None);

        var error = await Assert.ThrowsAsync<SocketException>(() => sut.ConnectAsync(IPAddress.Any, server.EndPoint, CancellationToken.None).AsTask());

        Assert.Equal(SocketError.AddressNotAvailable, error.SocketErrorCode);
        SocketOptions.SetAbortiveClose(first);
    }

    [Fact]
    public async Task ConnectAsync_NonLocalSource_ThrowsSourceBindException()
    {
        await using var server = new LoopbackServer();

        // 192.0.2.1 (TEST-NET-1) is not assigned here: bind fails before any packet is sent.
        var error = await Assert.ThrowsAsync<SourceBindException>(() => CreateSut(connectDirectly: true).ConnectAsync(IPAddress.Parse("192.0.2.1"), server.EndPoint, CancellationToken.None).AsTask());

        Assert.Equal(SocketError.AddressNotAvailable, error.SocketErrorCode);
        Assert.Equal(0, server.AcceptedTotal);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_CanceledToken_ThrowsWithoutConnecting(bool connectDirectly)
    {
        await using var server = new LoopbackServer();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => CreateSut(connectDirectly).ConnectAsync(IPAddress.Any, server.EndPoint, new CancellationToken(canceled: true)).AsTask());

        Assert.Equal(0, server.AcceptedTotal);
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_HandshakeInFlight_CancelEndsTheWait(bool connectDirectly)
    {
        using var backlog = new FullBacklog();
        using var cancel = new CancellationTokenSource();
        var pending = CreateSut(connectDirectly).ConnectAsync(IPAddress.Any, backlog.EndPoint, cancel.Token).AsTask();

        // The listener drops the SYN (its accept queue is full), so the connect cannot be done.
        Assert.False(pending.IsCompleted);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending.WaitAsync(Guard));
    }

    [Theory]
    [MemberData(nameof(BothPaths))]
    public async Task ConnectAsync_HandshakeInFlight_CompletesWhenTheListenerMakesRoom(bool connectDirectly)
    {
        using var backlog = new FullBacklog();
        var pending = CreateSut(connectDirectly).ConnectAsync(IPAddress.Any, backlog.EndPoint, CancellationToken.None).AsTask();
        Assert.False(pending.IsCompleted);

        // Room in the accept queue: the kernel's SYN retransmit (about 1 s later) now gets through.
        backlog.AcceptQueued();
        using var socket = await pending.WaitAsync(Guard);

        Assert.True(socket.Connected);
        Assert.True(socket.Blocking);
        Assert.Equal(backlog.EndPoint, socket.RemoteEndPoint);
        SocketOptions.SetAbortiveClose(socket);
    }

    [Fact]
    public void WriteSockaddr_IPv4AndIPv6_UseTheLinuxLayout()
    {
        var buffer = new byte[28];

        Assert.Equal(16, SocketConnector.WriteSockaddr(new IPEndPoint(IPAddress.Parse("127.1.2.3"), 0x1234), buffer));
        Assert.Equal(new byte[] { 2, 0, 0x12, 0x34, 127, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0 }, buffer[..16]);

        var v6 = new IPAddress(IPAddress.IPv6Loopback.GetAddressBytes(), scopeid: 7);
        Assert.Equal(28, SocketConnector.WriteSockaddr(new IPEndPoint(v6, 80), buffer));
        Assert.Equal(BitConverter.GetBytes((ushort)10), buffer[..2]);
        Assert.Equal(new byte[] { 0, 80, 0, 0, 0, 0 }, buffer[2..8]);
        Assert.Equal(IPAddress.IPv6Loopback.GetAddressBytes(), buffer[8..24]);
        Assert.Equal(BitConverter.GetBytes(7u), buffer[24..28]);
    }

    /// <summary>
    /// A listener with backlog 0 whose accept queue already holds one connection: Linux drops
    /// further SYNs, so a connect to it stays in SYN_SENT until the queue has room.
    /// </summary>
    private sealed class FullBacklog : IDisposable
    {
        private readonly Socket _listener;
        private readonly Socket _filler;
        private Socket? _accepted;

        public FullBacklog()
        {
            _listener = ListenerPorts.BindListener(IPAddress.Loopback);
            _listener.Listen(0);
            EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
            _filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            _filler.Connect(EndPoint);

            // Readable once the filler sits in the accept queue: from then on SYNs are dropped.
            if (!_listener.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead))
            {
                throw new InvalidOperationException("The filler connection never reached the accept queue.");
            }
        }

        public IPEndPoint EndPoint { get; }

        public void AcceptQueued() => _accepted = _listener.Accept();

        public void Dispose()
        {
            SocketOptions.SetAbortiveClose(_filler);
            _filler.Dispose();
            _accepted?.Dispose();
            _listener.Dispose();
        }
    }
}
