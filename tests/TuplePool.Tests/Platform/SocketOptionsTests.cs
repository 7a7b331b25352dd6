using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Platform;

// Client port slices of this class (inside the Platform slice 33000-33999):
// 33000-33009 IPv4 connect, 33010-33019 abortive close, 33020-33029 graceful close, 33030-33039 IPv6 connect.
public class SocketOptionsTests
{
    private const string LinuxOnly = "IP_BIND_ADDRESS_NO_PORT and IP_LOCAL_PORT_RANGE are Linux socket options.";

    private static void SkipUnlessLocalPortRange()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        Assert.SkipUnless(KernelSettings.Current.SupportsLocalPortRange, $"IP_LOCAL_PORT_RANGE needs Linux 6.3; this is {KernelSettings.Current.KernelVersion}.");
    }

    private static int ReadRawInt(Socket socket, int level, int name)
    {
        Span<byte> value = stackalloc byte[sizeof(int)];
        Assert.Equal(sizeof(int), socket.GetRawSocketOption(level, name, value));
        return BitConverter.ToInt32(value);
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public void TrySetBindAddressNoPort_Linux_KernelReadsBackOne(AddressFamily family)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);
        using var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);
        Assert.Equal(0, ReadRawInt(socket, SocketOptions.SolIp, SocketOptions.IpBindAddressNoPort));

        Assert.True(SocketOptions.TrySetBindAddressNoPort(socket));

        Assert.Equal(1, ReadRawInt(socket, SocketOptions.SolIp, SocketOptions.IpBindAddressNoPort));
    }

    [Theory]
    [InlineData(AddressFamily.InterNetwork)]
    [InlineData(AddressFamily.InterNetworkV6)]
    public void TrySetLocalPortRange_Linux_KernelReadsBackFirstLowLastHigh(AddressFamily family)
    {
        SkipUnlessLocalPortRange();
        using var socket = new Socket(family, SocketType.Stream, ProtocolType.Tcp);

        Assert.True(SocketOptions.TrySetLocalPortRange(socket, new PortRange(33000, 33009)));

        var value = (uint)ReadRawInt(socket, SocketOptions.SolIp, SocketOptions.IpLocalPortRange);
        Assert.Equal(33000u, value & 0xFFFF);
        Assert.Equal(33009u, value >> 16);
    }

    [Fact]
    public void EncodeLocalPortRange_Range_FirstInLowBitsLastInHighBits()
        => Assert.Equal(0xEA60_8000u, SocketOptions.EncodeLocalPortRange(new PortRange(32768, 60000)));

    [Theory]
    [InlineData(0, 0)]
    [InlineData(33009, 33000)]
    [InlineData(0, 33000)]
    public void TrySetLocalPortRange_InvalidRange_FalseAndSocketUntouched(int first, int last)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.False(SocketOptions.TrySetLocalPortRange(socket, new PortRange(first, last)));

        if (OperatingSystem.IsLinux() && KernelSettings.Current.SupportsLocalPortRange)
        {
            Assert.Equal(0, ReadRawInt(socket, SocketOptions.SolIp, SocketOptions.IpLocalPortRange));
        }
    }

    [Fact]
    public void TrySetOptions_KernelRejects_FalseInsteadOfThrowing()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), LinuxOnly);

        // An AF_UNIX socket has no SOL_IP options: the kernel answers EOPNOTSUPP.
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);

        Assert.False(SocketOptions.TrySetBindAddressNoPort(socket));
        Assert.False(SocketOptions.TrySetLocalPortRange(socket, new PortRange(33000, 33009)));
    }

    [Fact]
    public void TrySetReuseUnicastPort_NotWindows_False()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Checks the non-Windows answer.");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.False(SocketOptions.TrySetReuseUnicastPort(socket));
    }

    [Fact]
    public void TrySetReuseUnicastPort_Windows_KernelReadsBackOne()
    {
        Assert.SkipUnless(OperatingSystem.IsWindows(), "SO_REUSE_UNICASTPORT is a Windows socket option.");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.True(SocketOptions.TrySetReuseUnicastPort(socket));

        Assert.Equal(1, (int)socket.GetSocketOption(SocketOptionLevel.Socket, (SocketOptionName)SocketOptions.SoReuseUnicastPort)!);
    }

    [Fact]
    public void TrySetBindAddressNoPort_Windows_False()
    {
        Assert.SkipUnless(OperatingSystem.IsWindows(), "Checks the Windows answer.");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        Assert.False(SocketOptions.TrySetBindAddressNoPort(socket));
    }

    [Fact]
    public void TrySetLocalPortRange_IPv4ConnectWithNoPort_LocalPortInsideRange()
    {
        SkipUnlessLocalPortRange();
        var slice = new PortRange(33000, 33009);
        using var listener = LoopbackSockets.Listen(IPAddress.Loopback);

        using var client = LoopbackSockets.Connect(IPAddress.Loopback, listener.EndPoint(), slice);
        using var server = listener.Accept();

        var local = client.EndPoint();
        Assert.Equal(IPAddress.Loopback, local.Address);
        Assert.InRange(local.Port, slice.First, slice.Last);
        Assert.Equal(local, server.RemoteEndPoint);
        SocketOptions.SetAbortiveClose(client);
    }

    [Fact]
    public void TrySetLocalPortRange_IPv6SocketAtSolIp_ConnectTakesPortInsideRange()
    {
        SkipUnlessLocalPortRange();
        Assert.SkipUnless(Socket.OSSupportsIPv6, "No IPv6 on this machine.");
        var slice = new PortRange(33030, 33039);
        using var listener = LoopbackSockets.Listen(IPAddress.IPv6Loopback);

        using var client = LoopbackSockets.Connect(IPAddress.IPv6Loopback, listener.EndPoint(), slice);
        using var server = listener.Accept();

        Assert.InRange(client.EndPoint().Port, slice.First, slice.Last);
        SocketOptions.SetAbortiveClose(client);
    }

    [Fact]
    public void TrySetOptions_AfterFirstUse_AllocateNothing()
    {
        SkipUnlessLocalPortRange();
        using var first = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var second = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var range = new PortRange(33000, 33009);
        SocketOptions.TrySetBindAddressNoPort(first);
        SocketOptions.TrySetLocalPortRange(first, range);
        SocketOptions.SetAbortiveClose(first);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var noPort = SocketOptions.TrySetBindAddressNoPort(second);
        var localRange = SocketOptions.TrySetLocalPortRange(second, range);
        SocketOptions.SetAbortiveClose(second);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(noPort && localRange);
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void SetAbortiveClose_Socket_LingerOnWithZeroSeconds()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        SocketOptions.SetAbortiveClose(socket);

        var linger = socket.LingerState!;
        Assert.True(linger.Enabled);
        Assert.Equal(0, linger.LingerTime);
    }

    [Fact]
    public async Task SetAbortiveClose_ClientClosesFirst_ResetAndNoTimeWait()
    {
        SkipUnlessLocalPortRange();

        // Control: the same close done gracefully leaves the client in TIME_WAIT, so the census
        // can see what the abortive close must avoid.
        using var gracefulListener = LoopbackSockets.Listen(IPAddress.Loopback);
        var gracefulDestination = gracefulListener.EndPoint();
        // Counted on each client's own port slice: the listener's port may carry TIME_WAIT from an
        // earlier run of the suite for 60 s.
        var gracefulSlice = new PortRange(33020, 33029);
        var abortiveSlice = new PortRange(33010, 33019);
        var graceful = LoopbackSockets.Connect(IPAddress.Loopback, gracefulDestination, gracefulSlice);
        var gracefulPort = graceful.EndPoint().Port;
        using (var server = gracefulListener.Accept())
        {
            graceful.Dispose();
            Assert.Equal(0, server.Receive(new byte[1]));
        }

        // This very socket's port: an earlier run may have left a TIME_WAIT elsewhere in the slice.
        Assert.Equal(1, await KernelSockets.WaitForCountAsync(new PortRange(gracefulPort, gracefulPort), gracefulDestination, TcpState.TimeWait, n => n == 1));

        using var abortiveListener = LoopbackSockets.Listen(IPAddress.Loopback);
        var abortiveDestination = abortiveListener.EndPoint();
        var abortive = LoopbackSockets.Connect(IPAddress.Loopback, abortiveDestination, abortiveSlice);
        var abortiveLocal = abortive.EndPoint();
        using (var server = abortiveListener.Accept())
        {
            Assert.Equal(1, KernelSockets.Count(abortiveSlice, abortiveDestination, TcpState.Established));
            SocketOptions.SetAbortiveClose(abortive);
            abortive.Dispose();

            var reset = Assert.Throws<SocketException>(() => server.Receive(new byte[1]));
            Assert.Equal(SocketError.ConnectionReset, reset.SocketErrorCode);
        }

        // The server read the RST, so the client's socket is gone from the kernel already.
        Assert.Equal(0, KernelSockets.Count(abortiveSlice, abortiveDestination));
        Assert.Equal(0, KernelSockets.Count(abortiveSlice, abortiveDestination, TcpState.TimeWait));
        Assert.Equal(0, KernelCensus.Default.Read().CountUsing(IPAddress.Loopback, abortiveLocal));
    }
}
