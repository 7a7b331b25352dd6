using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

// Client port slices of this class (inside the Platform slice 33000-33999): 33200-33219 the
// tuple filter, 33220-33229 TIME_WAIT, 33230-33239 IPv6, 33240-33249 dual-stack, 33250-33269 the
// local port range, 33270-33279 exact lookups, 33280-33289 the small buffer, 33290-33299 the whole table.

/// <summary>
/// The netlink census against the real kernel, on loopback connections the test holds. Each test
/// counts only what it can know: its own sources, its own client slice, and the states it made
/// (an earlier run of the suite may have left TIME_WAIT towards a listener port for 60 s).
/// </summary>
public sealed class SockDiagCensusTests : IDisposable
{
    private readonly List<Socket> _sockets = [];

    public SockDiagCensusTests()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "NETLINK_SOCK_DIAG is Linux only.");
        var probe = SockDiagCensus.Default.Probe();
        Assert.SkipUnless(probe.IsOk, $"This host refuses NETLINK_SOCK_DIAG ({probe.Detail}); the census reads /proc there (KernelCensusTests).");
        Assert.SkipUnless(KernelSettings.Current.SupportsLocalPortRange, "Keeping to the test's port slice needs IP_LOCAL_PORT_RANGE (Linux 6.3).");
    }

    public void Dispose() => LoopbackSockets.DisposeAbortively(_sockets);

    [Fact]
    public void Count_OneTuple_CountsItsSocketsAndNoOthers()
    {
        var slice = new PortRange(33200, 33219);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var other = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.41");
        Open(source, listener.EndPoint(), slice, 5, listener);
        Open(IPAddress.Parse("127.0.0.42"), listener.EndPoint(), slice, 3, listener); // another source
        Open(source, other.EndPoint(), slice, 2, other);                               // another destination port
        var sut = new SockDiagCensus();

        Assert.True(sut.Count(new CensusFilter(source, listener.EndPoint(), TcpStateMask.Established, null), out var count).IsOk);
        Assert.True(sut.Count(new CensusFilter(IPAddress.Any, listener.EndPoint(), TcpStateMask.Established, slice), out var anySource).IsOk);
        Assert.True(sut.Count(new CensusFilter(source, other.EndPoint(), TcpStateMask.Established, null), out var otherPort).IsOk);
        Assert.True(sut.Count(new CensusFilter(source, listener.EndPoint(), TcpStateMask.Listen, null), out var listening).IsOk);

        Assert.Equal(5, count);
        Assert.Equal(8, anySource);
        Assert.Equal(2, otherPort);
        Assert.Equal(0, listening); // the listener's remote end is 0.0.0.0:0, no part of the tuple
        Assert.Equal(0, sut.RejectedSockets); // the other source's and the other port's sockets stayed in the kernel
    }

    [Fact]
    public void Query_FilterRunsInTheKernel_OtherTuplesNeverReachUs()
    {
        var slice = new PortRange(33200, 33219);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.43");
        Open(source, listener.EndPoint(), slice, 2, listener);
        Open(IPAddress.Parse("127.0.0.44"), listener.EndPoint(), slice, 4, listener);
        var sut = new SockDiagCensus();
        var results = new List<KernelSocket>();

        var result = sut.Query(new CensusFilter(source, listener.EndPoint(), TcpStateMask.Connections, null), results);

        Assert.True(result.IsOk, result.Detail);
        Assert.Equal(2, results.Count(s => s.State == TcpState.Established));
        Assert.All(results, s => Assert.Equal(source, s.LocalAddress));
        Assert.All(results, s => Assert.Equal(listener.EndPoint(), new IPEndPoint(s.RemoteAddress, s.RemotePort)));
        // What the kernel sent is what the filter wanted: the census had nothing to drop itself
        // (the 4 sockets of 127.0.0.44 and the server halves stayed in the kernel).
        Assert.Equal(0, sut.RejectedSockets);
    }

    [Fact]
    public void Query_TimeWait_ReportsTheTimerLeftAndNoInode()
    {
        var slice = new PortRange(33220, 33229);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.45");
        using var client = LoopbackSockets.Connect(source, listener.EndPoint(), slice);
        using var server = listener.Accept();
        var localPort = ((IPEndPoint)client.LocalEndPoint!).Port;
        client.Shutdown(SocketShutdown.Both); // we close first: TIME_WAIT is ours
        Assert.Equal(0, server.Receive(new byte[1]));
        server.Dispose();
        client.Dispose();
        var sut = new SockDiagCensus();

        var timeWait = LoopbackSockets.WaitFor(() =>
        {
            var results = new List<KernelSocket>();
            Assert.True(sut.Query(new CensusFilter(source, listener.EndPoint(), TcpStateMask.TimeWait, null), results).IsOk);
            return results.SingleOrDefault(s => s.LocalPort == localPort);
        }, s => s.State == TcpState.TimeWait);

        Assert.Equal(TcpState.TimeWait, timeWait.State);
        Assert.Equal(KernelTimer.TimeWait, timeWait.Timer);
        Assert.NotNull(timeWait.TimerLeft);
        Assert.InRange(timeWait.TimerLeft.Value, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60)); // TCP_TIMEWAIT_LEN, just started
        Assert.Equal(0U, timeWait.Inode);
    }

    [Fact]
    public void Query_IPv6Loopback_Found()
    {
        Assert.SkipUnless(Socket.OSSupportsIPv6, "No IPv6 on this host.");
        var slice = new PortRange(33230, 33239);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.IPv6Loopback));
        Open(IPAddress.IPv6Loopback, listener.EndPoint(), slice, 3, listener);
        var sut = new SockDiagCensus();
        var results = new List<KernelSocket>();

        Assert.True(sut.Query(new CensusFilter(IPAddress.IPv6Loopback, listener.EndPoint(), TcpStateMask.Established, null), results).IsOk);
        Assert.True(sut.Count(new CensusFilter(IPAddress.Parse("127.0.0.1"), listener.EndPoint(), TcpStateMask.Established, null), out var fromIPv4).IsOk);

        Assert.Equal(3, results.Count(s => slice.Contains(s.LocalPort)));
        Assert.All(results, s => Assert.Equal(IPAddress.IPv6Loopback, s.LocalAddress));
        Assert.NotEqual(0U, results[0].Inode);
        Assert.Equal(0, fromIPv4); // an IPv4 source holds no port of an IPv6 tuple
    }

    [Fact]
    public void Query_DualStackSocketTalkingIPv4_CountedAsIPv4()
    {
        Assert.SkipUnless(Socket.OSSupportsIPv6, "No IPv6 on this host (a dual-stack socket needs AF_INET6).");
        var slice = new PortRange(33240, 33249);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var mapped = new IPEndPoint(listener.EndPoint().Address.MapToIPv6(), listener.EndPoint().Port);
        for (var i = 0; i < 2; i++)
        {
            Hold(LoopbackSockets.Connect(IPAddress.Parse("::ffff:127.0.0.46"), mapped, slice, dualMode: true));
            Hold(listener.Accept());
        }

        var sut = new SockDiagCensus();
        var results = new List<KernelSocket>();

        Assert.True(sut.Query(new CensusFilter(IPAddress.Parse("127.0.0.46"), listener.EndPoint(), TcpStateMask.Established, null), results).IsOk);
        Assert.True(sut.Count(new CensusFilter(IPAddress.Parse("::ffff:127.0.0.46"), mapped, TcpStateMask.Established, null), out var askedMapped).IsOk);

        Assert.Equal(2, results.Count);
        Assert.All(results, s => Assert.Equal(IPAddress.Parse("127.0.0.46"), s.LocalAddress));
        Assert.All(results, s => Assert.Equal(listener.EndPoint().Address, s.RemoteAddress));
        Assert.Equal(2, askedMapped);
    }

    [Fact]
    public void Count_LocalPortRange_OnlyThePortsInsideIt()
    {
        var slice = new PortRange(33250, 33269);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.47");
        var ports = Open(source, listener.EndPoint(), slice, 8, listener).Select(s => ((IPEndPoint)s.LocalEndPoint!).Port).Order().ToList();
        var lower = new PortRange(slice.First, ports[3]);
        var sut = new SockDiagCensus();

        Assert.True(sut.Count(new CensusFilter(source, listener.EndPoint(), TcpStateMask.Established, lower), out var inLower).IsOk);
        Assert.True(sut.Count(new CensusFilter(source, listener.EndPoint(), TcpStateMask.Established, new PortRange(ports[^1] + 1, 65535)), out var above).IsOk);

        Assert.Equal(4, inLower);
        Assert.Equal(0, above);
        Assert.Equal(0, sut.RejectedSockets);
    }

    [Fact]
    public void Lookup_ClosedConnections_ThoseStillThereWithTheirState()
    {
        var slice = new PortRange(33270, 33279);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.48");
        var open = LoopbackSockets.Connect(source, listener.EndPoint(), slice);
        Hold(open);
        Hold(listener.Accept());
        var closing = LoopbackSockets.Connect(source, listener.EndPoint(), slice);
        using var closingPeer = listener.Accept();
        var reset = LoopbackSockets.Connect(source, listener.EndPoint(), slice);
        Hold(listener.Accept());
        var openTuple = Tuple(open);
        var closingTuple = Tuple(closing);
        var resetTuple = Tuple(reset);
        closing.Shutdown(SocketShutdown.Both);
        Assert.Equal(0, closingPeer.Receive(new byte[1]));
        closingPeer.Dispose();
        closing.Dispose(); // TIME_WAIT
        LoopbackSockets.DisposeAbortively([reset]); // gone at once
        var sut = new SockDiagCensus();

        var found = LoopbackSockets.WaitFor(
            () =>
            {
                var results = new List<KernelSocket>();
                Assert.True(sut.Lookup([openTuple, closingTuple, resetTuple], results).IsOk);
                return results;
            },
            r => r.Count == 2 && r.Any(s => s.State == TcpState.TimeWait));

        Assert.Equal(2, found.Count);
        Assert.Equal(TcpState.Established, Assert.Single(found, s => TcpFourTuple.Of(s) == openTuple).State);
        var timeWait = Assert.Single(found, s => TcpFourTuple.Of(s) == closingTuple);
        Assert.Equal(TcpState.TimeWait, timeWait.State);
        Assert.InRange(timeWait.TimerLeft!.Value, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(found, s => TcpFourTuple.Of(s) == resetTuple);
    }

    [Fact]
    public void Lookup_ATupleWhoseLocalPortHasAListener_IsNotAnsweredWithTheListener()
    {
        // The kernel's exact lookup falls back to a listener on the local address and port when
        // no connection has the tuple; that listener is not the connection asked about.
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var asked = new TcpFourTuple(IPAddress.Loopback, listener.EndPoint().Port, IPAddress.Parse("127.0.0.49"), 33271);
        var sut = new SockDiagCensus();
        var results = new List<KernelSocket>();

        Assert.True(sut.Lookup([asked], results).IsOk);

        Assert.Empty(results);
    }

    [Fact]
    public void Query_ReceiveBufferTooSmall_GrowsAndReadsAgain()
    {
        var slice = new PortRange(33280, 33289);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.50");
        Open(source, listener.EndPoint(), slice, 6, listener);
        var sut = new SockDiagCensus(receiveBufferSize: 64); // smaller than one socket's message
        var results = new List<KernelSocket>();

        var result = sut.Query(new CensusFilter(source, listener.EndPoint(), TcpStateMask.Established, null), results);

        Assert.True(result.IsOk, result.Detail);
        Assert.Equal(6, results.Count);
        Assert.True(sut.TruncatedReplies >= 1, "the first datagram did not fit, so the query must have run again");
        Assert.True(sut.ReceiveBufferSize > 64);
    }

    [Fact]
    public void ReadAll_WholeTable_HasOurListenerAndConnectionsOnce()
    {
        var slice = new PortRange(33290, 33299);
        var listener = Hold(LoopbackSockets.Listen(IPAddress.Loopback));
        var source = IPAddress.Parse("127.0.0.51");
        Open(source, listener.EndPoint(), slice, 3, listener);
        var sut = new SockDiagCensus();

        var result = sut.ReadAll(TcpStateMask.All, out var table);

        Assert.True(result.IsOk, result.Detail);
        Assert.Equal(CensusBackend.SockDiag, table.Backend);
        Assert.Single(table.Sockets, s => s.State == TcpState.Listen && s.LocalPort == listener.EndPoint().Port && s.LocalAddress.Equals(IPAddress.Loopback));
        Assert.Equal(3, table.Sockets.Count(s => s.LocalAddress.Equals(source) && s.State == TcpState.Established && s.RemotePort == listener.EndPoint().Port));
        Assert.Equal(3, table.Sockets.Count(s => s.RemoteAddress.Equals(source) && s.LocalPort == listener.EndPoint().Port)); // the server halves
        var connected = table.Sockets.Where(s => s.RemotePort != 0).Select(s => TcpFourTuple.Of(s)).ToList();
        Assert.Equal(connected.Count, connected.Distinct().Count());
    }

    [Fact]
    public void Kernel_RefusesABadProgram_WithAnErrorTheReaderReads()
    {
        // A "no" that jumps into the middle of an op: inet_diag_bc_audit answers EINVAL.
        Span<byte> request = stackalloc byte[SockDiagRequest.MaxLength];
        var length = SockDiagRequest.WriteDumpAll(request, SockDiagRequest.AfInet, TcpStateMask.Connections, 9);
        byte[] program = [SockDiagBytecode.SourceGreaterOrEqual, 8, 6, 0, 0, 0, 1, 0];
        program.CopyTo(request[(length + 4)..]);
        BitConverter.TryWriteBytes(request[length..], (ushort)(4 + program.Length));
        BitConverter.TryWriteBytes(request[(length + 2)..], (ushort)1);
        length += 4 + program.Length;
        BitConverter.TryWriteBytes(request, (uint)length);
        Assert.True(NetlinkSocket.TryOpen(out var socket, out var errno), $"errno {errno}");
        using (socket)
        {
            Assert.Equal(0, socket.Send(request[..length]));
            var buffer = new byte[4096];
            var received = socket.Receive(buffer, out errno);
            Assert.True(received > 0, $"errno {errno}");

            var reader = new SockDiagReader(buffer.AsSpan(0, received));
            Assert.Equal(SockDiagMessageKind.Error, reader.Read(out var sequence, out var error, out _));
            Assert.Equal(9U, sequence);
            Assert.Equal(Errnos.EINVAL, error);
            Assert.True(Errnos.IsRefusal(error));
        }
    }

    private static TcpFourTuple Tuple(Socket socket)
    {
        var local = (IPEndPoint)socket.LocalEndPoint!;
        var remote = (IPEndPoint)socket.RemoteEndPoint!;
        return new TcpFourTuple(local.Address, local.Port, remote.Address, remote.Port);
    }

    private Socket Hold(Socket socket)
    {
        _sockets.Add(socket);
        return socket;
    }

    // count connections from source, each accepted (the server halves are held too).
    private List<Socket> Open(IPAddress source, IPEndPoint destination, PortRange slice, int count, Socket listener)
    {
        var clients = new List<Socket>();
        for (var i = 0; i < count; i++)
        {
            clients.Add(Hold(LoopbackSockets.Connect(source, destination, slice)));
            Hold(listener.Accept());
        }

        return clients;
    }
}
