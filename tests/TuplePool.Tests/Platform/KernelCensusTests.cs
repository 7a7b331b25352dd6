using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Platform;

// Client port slices of this class: 33100-33199, and 33040-33059 for TryCount_LiveTuple_NetlinkAndProcAgree.
public class KernelCensusTests
{
    private static readonly PortRange Slice = new(33100, 33199);

    private static string Captured(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", name));

    private static FakeProcFileSystem CapturedFiles() => new()
    {
        [KernelCensus.TcpPath] = Captured("proc-net-tcp.txt"),
        [KernelCensus.Tcp6Path] = Captured("proc-net-tcp6.txt"),
    };

    [Fact]
    public void Read_BothFiles_CountsFromEach()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The captured text is from a little-endian machine.");
        var fileSystem = new FakeProcFileSystem
        {
            [KernelCensus.TcpPath] = Captured("proc-net-tcp.txt"),
            [KernelCensus.Tcp6Path] = Captured("proc-net-tcp6.txt"),
        };

        var snapshot = KernelCensus.ProcOnly(fileSystem, "captured text").Read();

        Assert.Equal(14, snapshot.TotalSockets);
        Assert.Equal(0, snapshot.MalformedLines);
        Assert.Empty(snapshot.UnreadableFiles);
        // One socket from each file towards the IPv4 listener: 127.0.0.1 from tcp, the mapped one from tcp6.
        Assert.Equal(1, snapshot.CountUsing(IPAddress.Parse("127.0.0.4"), IPEndPoint.Parse("127.0.0.1:45189")));
        Assert.Equal(1, snapshot.Count(IPAddress.Loopback, IPEndPoint.Parse("127.0.0.1:45189"), TcpState.TimeWait));
    }

    [Fact]
    public void Read_MalformedLinesInBothFiles_Summed()
    {
        var fileSystem = new FakeProcFileSystem
        {
            [KernelCensus.TcpPath] = "  sl  local_address\nbad\nworse\n",
            [KernelCensus.Tcp6Path] = "  sl  local_address\nbad\n",
        };

        var snapshot = KernelCensus.ProcOnly(fileSystem, "captured text").Read();

        Assert.Equal(3, snapshot.MalformedLines);
        Assert.Equal(0, snapshot.TotalSockets);
    }

    [Fact]
    public void Read_FilesMissing_EmptyAndListsThem()
    {
        var snapshot = KernelCensus.ProcOnly(new FakeProcFileSystem(), "captured text").Read();

        Assert.Equal(0, snapshot.TotalSockets);
        Assert.Equal(0, snapshot.MalformedLines);
        Assert.Equal([KernelCensus.TcpPath, KernelCensus.Tcp6Path], snapshot.UnreadableFiles);
    }

    [Fact]
    public void Read_NoIPv6File_StillCountsIPv4()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The captured text is from a little-endian machine.");
        var fileSystem = new FakeProcFileSystem { [KernelCensus.TcpPath] = Captured("proc-net-tcp.txt") };

        var snapshot = KernelCensus.ProcOnly(fileSystem, "captured text").Read();

        Assert.Equal(10, snapshot.TotalSockets);
        Assert.Equal([KernelCensus.Tcp6Path], snapshot.UnreadableFiles);
    }

    [Fact]
    public void NetlinkRefused_AnswersFromProc_AndNeverAsksNetlinkAgain()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The captured text is from a little-endian machine.");
        var netlink = new RefusingCensusBackend(Errnos.EPERM);
        var sut = new KernelCensus(netlink, new ProcNetTcpCensus(CapturedFiles()), null);
        var destination = IPEndPoint.Parse("127.0.0.1:45189");

        Assert.True(sut.TryCount(IPAddress.Loopback, destination, TcpStateMask.Connections, null, out var count));
        var found = new List<KernelSocket>();
        Assert.True(sut.TryQuery(null, destination, TcpStateMask.TimeWait, found));
        var table = sut.ReadAll(TcpStateMask.All);

        Assert.Equal(2, count); // ESTABLISHED and TIME_WAIT, as in the captured text
        Assert.Equal(33928, Assert.Single(found).LocalPort);
        Assert.Equal(14, table.Sockets.Count);
        Assert.Equal(CensusBackend.ProcNetTcp, table.Backend);
        Assert.Equal(CensusBackend.ProcNetTcp, sut.Backend);
        Assert.Equal("netlink refused: SOCK_DIAG_BY_FAMILY: EPERM (Operation not permitted)", sut.FallbackReason);
        Assert.Equal(sut.FallbackReason, table.FallbackReason);
        Assert.Equal(1, netlink.Calls); // the probe: a refusal is final
    }

    [Fact]
    public void NetlinkRefusesAQueryAfterItsProbe_ThatQueryAndTheRestFromProc()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The captured text is from a little-endian machine.");
        var netlink = new RefusingCensusBackend(Errnos.EINVAL) { ProbeAnswers = true };
        var sut = new KernelCensus(netlink, new ProcNetTcpCensus(CapturedFiles()), null);

        Assert.True(sut.TryCount(IPAddress.Loopback, IPEndPoint.Parse("127.0.0.1:45189"), TcpStateMask.Connections, null, out var first));
        Assert.True(sut.TryCount(IPAddress.Loopback, IPEndPoint.Parse("127.0.0.1:45189"), TcpStateMask.Connections, null, out var second));

        Assert.Equal(2, first);
        Assert.Equal(2, second);
        Assert.Equal(2, netlink.Calls); // the probe and the refused query
        Assert.Equal(CensusBackend.ProcNetTcp, sut.Backend);
        Assert.Contains("EINVAL", sut.FallbackReason, StringComparison.Ordinal);
    }

    [Fact]
    public void NetlinkFailsOnce_ThatQueryFromProc_NetlinkAskedAgainNextTime()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The captured text is from a little-endian machine.");
        var netlink = new RefusingCensusBackend(Errnos.ENOBUFS) { Status = CensusStatus.Failed };
        var sut = new KernelCensus(netlink, new ProcNetTcpCensus(CapturedFiles()), null);

        Assert.True(sut.TryCount(IPAddress.Loopback, IPEndPoint.Parse("127.0.0.1:45189"), TcpStateMask.Connections, null, out var count));
        Assert.True(sut.TryCount(IPAddress.Loopback, IPEndPoint.Parse("127.0.0.1:45189"), TcpStateMask.Connections, null, out _));

        Assert.Equal(2, count);
        Assert.Equal(2, netlink.Calls); // not given up: each query asks again
        Assert.Null(sut.FallbackReason);
        Assert.Contains("ENOBUFS", sut.ReadAll(TcpStateMask.All).FallbackReason, StringComparison.Ordinal);
    }

    [Fact]
    public void NeitherBackendAnswers_TryCountFalse_TableUnavailable()
    {
        var sut = new KernelCensus(new RefusingCensusBackend(), new ProcNetTcpCensus(new FakeProcFileSystem()), null);

        Assert.False(sut.TryCount(null, IPEndPoint.Parse("127.0.0.1:80"), TcpStateMask.Connections, null, out var count));
        var table = sut.ReadAll(TcpStateMask.All);

        Assert.Equal(0, count);
        Assert.Equal(CensusBackend.Unavailable, table.Backend);
        Assert.Contains("EPERM", table.FallbackReason, StringComparison.Ordinal);
        Assert.Contains("missing or not readable", table.FallbackReason, StringComparison.Ordinal);
    }

    [Fact]
    public void Default_OnLinux_ReadsThroughNetlink()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "NETLINK_SOCK_DIAG is Linux only.");
        var probe = SockDiagCensus.Default.Probe();
        Assert.SkipUnless(probe.IsOk, $"This host refuses NETLINK_SOCK_DIAG ({probe.Detail}).");

        Assert.Equal(CensusBackend.SockDiag, KernelCensus.Default.Backend);
        Assert.Null(KernelCensus.Default.FallbackReason);
        Assert.Equal(CensusBackend.SockDiag, KernelCensus.Default.Read().Backend);
    }

    [Fact]
    public void TryCount_LiveTuple_NetlinkAndProcAgree()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Both backends read the Linux kernel.");
        Assert.SkipUnless(SockDiagCensus.Default.Probe().IsOk, "This host refuses NETLINK_SOCK_DIAG.");
        Assert.SkipUnless(KernelSettings.Current.SupportsLocalPortRange, "Keeping to the test's port slice needs IP_LOCAL_PORT_RANGE (Linux 6.3).");
        var slice = new PortRange(33040, 33059); // this test's own client slice
        var source = IPAddress.Parse("127.0.0.52");
        using var listener = LoopbackSockets.Listen(IPAddress.Loopback);
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 7; i++)
            {
                sockets.Add(LoopbackSockets.Connect(source, listener.EndPoint(), slice));
                sockets.Add(listener.Accept());
            }

            Assert.True(KernelCensus.Default.TryCount(source, listener.EndPoint(), TcpStateMask.Established, slice, out var netlink));
            Assert.True(KernelCensus.ProcOnly(ProcFileSystem.Default, "test").TryCount(source, listener.EndPoint(), TcpStateMask.Established, slice, out var proc));

            Assert.Equal(7, netlink);
            Assert.Equal(7, proc);
        }
        finally
        {
            LoopbackSockets.DisposeAbortively(sockets);
        }
    }

    [Fact]
    public void Read_LiveLoopbackConnections_CountedPerSourceAndState()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "The census reads /proc/net/tcp, which only Linux has.");
        Assert.SkipUnless(KernelSettings.Current.SupportsLocalPortRange, "Keeping to the test's port slice needs IP_LOCAL_PORT_RANGE (Linux 6.3).");
        var sourceA = IPAddress.Parse("127.0.0.5");
        var sourceB = IPAddress.Parse("127.0.0.6");
        var mappedSource = IPAddress.Parse("::ffff:127.0.0.7");
        using var listener = LoopbackSockets.Listen(IPAddress.Loopback);
        var destination = listener.EndPoint();
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < 12; i++)
            {
                sockets.Add(LoopbackSockets.Connect(sourceA, destination, Slice));
            }

            for (var i = 0; i < 7; i++)
            {
                sockets.Add(LoopbackSockets.Connect(sourceB, destination, Slice));
            }

            var mappedDestination = new IPEndPoint(destination.Address.MapToIPv6(), destination.Port);
            for (var i = 0; i < 3; i++)
            {
                sockets.Add(LoopbackSockets.Connect(mappedSource, mappedDestination, Slice, dualMode: true));
            }

            for (var i = 0; i < 22; i++)
            {
                sockets.Add(listener.Accept());
            }

            // One read of /proc/net/tcp can repeat or miss a line while other processes churn
            // (the census is documented as a close estimate), so read until a snapshot shows
            // what we opened, bounded; a census that miscounts never does and the asserts fail.
            var census = LoopbackSockets.WaitForCensus(c =>
                c.Count(sourceA, destination, TcpState.Established) == 12
                && c.Count(sourceB, destination, TcpState.Established) == 7
                && NotTimeWait(c, IPAddress.Parse("127.0.0.7"), destination) == 3
                && NotTimeWait(c, IPAddress.Any, destination) == 22
                && c.MalformedLines == 0);

            // The listener's port is this test's only while it runs: an earlier run of the suite
            // (or another worktree's) may have left TIME_WAIT towards the same port from the same
            // sources for 60 s. Those are the only sockets that are not ours, so every state but
            // TIME_WAIT must count exactly what we opened, and TIME_WAIT is checked on our own
            // client port slice.
            Assert.Equal(12, census.Count(sourceA, destination, TcpState.Established));
            Assert.Equal(12, NotTimeWait(census, sourceA, destination));
            Assert.Equal(7, census.Count(sourceB, destination, TcpState.Established));
            Assert.Equal(7, NotTimeWait(census, sourceB, destination));
            Assert.Equal(3, NotTimeWait(census, IPAddress.Parse("127.0.0.7"), destination));
            Assert.Equal(3, NotTimeWait(census, mappedSource, mappedDestination));
            Assert.Equal(22, census.Count(IPAddress.Any, destination, TcpState.Established));
            Assert.Equal(22, NotTimeWait(census, IPAddress.Any, destination));
            Assert.Equal(22, KernelSockets.Count(Slice, destination));
            Assert.Equal(0, KernelSockets.Count(Slice, destination, TcpState.TimeWait));
            Assert.True(census.Count(IPAddress.Loopback, new IPEndPoint(IPAddress.Any, 0), TcpState.Listen) >= 1, "our listener is missing");
            Assert.Equal(0, census.MalformedLines);
        }
        finally
        {
            LoopbackSockets.DisposeAbortively(sockets);
        }

        var after = LoopbackSockets.WaitForCensus(c => NotTimeWait(c, IPAddress.Any, destination) == 0);
        Assert.Equal(0, NotTimeWait(after, IPAddress.Any, destination));
        Assert.Equal(0, KernelSockets.Count(Slice, destination));
    }

    private static int NotTimeWait(KernelCensusSnapshot census, IPAddress source, IPEndPoint destination)
        => census.CountUsing(source, destination) - census.Count(source, destination, TcpState.TimeWait);
}
