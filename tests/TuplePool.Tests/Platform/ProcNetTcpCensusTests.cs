using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>
/// The <c>/proc/net/tcp{,6}</c> backend on captured text (TestData/README.md), and on that text
/// with lines repeated the way the kernel repeats them while sockets change.
/// </summary>
public sealed class ProcNetTcpCensusTests
{
    private static readonly IPAddress Source1 = IPAddress.Parse("127.0.0.1");
    private static readonly IPEndPoint Listener4 = IPEndPoint.Parse("127.0.0.1:45189");

    // Lines of proc-net-tcp.txt: 127.0.0.1:33926 -> :45189 ESTABLISHED (inode 28952), and
    // 127.0.0.1:33928 -> :45189 TIME_WAIT.
    private const string Established = "   8: 0100007F:8486 0100007F:B085 01 00000000:00000000 00:00000000 00000000     0        0 28952 2 00000000ec56f97e 20 0 0 10 -1";
    private const string TimeWait = "   9: 0100007F:8488 0100007F:B085 06 00000000:00000000 03:00001751 00000000     0        0 0 3 0000000032e8d3b8";

    // The established connection after it closed, as a later page of the same read would print it.
    private const string EstablishedNowTimeWait = "  10: 0100007F:8486 0100007F:B085 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000032e8d3b9";

    public ProcNetTcpCensusTests()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The captured text is from a little-endian machine.");
    }

    private static string Captured(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", name));

    private static ProcNetTcpCensus CreateSut(string tcp, string? tcp6 = null, FakeProcFileSystem? files = null)
    {
        files ??= new FakeProcFileSystem();
        files[ProcNetTcpCensus.TcpPath] = tcp;
        files[ProcNetTcpCensus.Tcp6Path] = tcp6;
        return new ProcNetTcpCensus(files);
    }

    [Fact]
    public void ReadAll_Captured_TimersQueuesAndInodes()
    {
        var sut = CreateSut(Captured("proc-net-tcp.txt"), Captured("proc-net-tcp6.txt"));

        Assert.True(sut.ReadAll(TcpStateMask.All, out var table).IsOk);

        Assert.Equal(14, table.Sockets.Count);
        Assert.Equal(0, table.DuplicatesDropped);
        Assert.Equal(CensusBackend.ProcNetTcp, table.Backend);
        var timeWait = Assert.Single(table.Sockets, s => s.State == TcpState.TimeWait);
        Assert.Equal(new KernelSocket(Source1, 33928, Source1, 45189, TcpState.TimeWait, KernelTimer.TimeWait, TimeSpan.FromMilliseconds(0x1751 * 10), 0, 0, 0), timeWait);
        var finWait2 = Assert.Single(table.Sockets, s => s.State == TcpState.FinWait2); // orphaned: kept as a TIME-WAIT socket
        Assert.Equal(KernelTimer.TimeWait, finWait2.Timer);
        Assert.Equal(0U, finWait2.Inode);
        var closeWait = Assert.Single(table.Sockets, s => s.State == TcpState.CloseWait);
        Assert.Equal(1, closeWait.ReceiveQueue);
        Assert.Equal(28958U, closeWait.Inode);
        Assert.Equal(28950U, Assert.Single(table.Sockets, s => s.State == TcpState.Listen && s.LocalPort == 45189).Inode);
        Assert.Null(Assert.Single(table.Sockets, s => s.Inode == 28953).TimerLeft);
    }

    [Fact]
    public void Count_LinesTheKernelRepeated_EachSocketOnce()
    {
        // A TIME_WAIT line three times, and a connection printed ESTABLISHED (with its inode) and
        // again, after it closed, as TIME_WAIT (no inode): two sockets, not five.
        var text = string.Join('\n', Captured("proc-net-tcp.txt").TrimEnd('\n'), TimeWait, Established, TimeWait, EstablishedNowTimeWait) + "\n";
        var sut = CreateSut(text);

        Assert.True(sut.Count(new CensusFilter(Source1, Listener4, TcpStateMask.Connections, null), out var count).IsOk);
        Assert.True(sut.Count(new CensusFilter(Source1, Listener4, TcpStateMask.TimeWait, null), out var timeWait).IsOk);
        Assert.True(sut.ReadAll(TcpStateMask.All, out var table).IsOk);

        Assert.Equal(2, count);
        Assert.Equal(2, timeWait); // the established line and its TIME_WAIT line: one socket, now in TIME_WAIT
        Assert.Equal(4, table.DuplicatesDropped);
        Assert.Equal(10, table.Sockets.Count);
        var closed = Assert.Single(table.Sockets, s => s.LocalPort == 33926 && s.LocalAddress.Equals(Source1) && s.RemotePort == 45189);
        Assert.Equal(TcpState.TimeWait, closed.State); // the line read last says where the socket is now
    }

    [Fact]
    public void ReadAll_ListenersSharingAPort_TwoSocketsButEachRepeatOnce()
    {
        // SO_REUSEPORT: two listeners on 0.0.0.0:2024 (different inodes), the first printed twice.
        const string first = "   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1076 1 00000000be58c654 100 0 0 10 0";
        const string second = "   2: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1077 1 00000000be58c655 100 0 0 10 0";
        var sut = CreateSut(string.Join('\n', "  sl  local_address", first, second, first));

        Assert.True(sut.ReadAll(TcpStateMask.Listen, out var table).IsOk);

        Assert.Equal([1076U, 1077U], table.Sockets.Select(s => s.Inode).Order());
        Assert.Equal(1, table.DuplicatesDropped);
    }

    [Fact]
    public void Count_IPv6Destination_ReadsOnlyTcp6()
    {
        var files = new FakeProcFileSystem();
        var sut = CreateSut(Captured("proc-net-tcp.txt"), Captured("proc-net-tcp6.txt"), files);

        Assert.True(sut.Count(new CensusFilter(IPAddress.IPv6Loopback, IPEndPoint.Parse("[::1]:38885"), TcpStateMask.Connections, null), out var count).IsOk);

        Assert.Equal(1, count);
        Assert.Equal([ProcNetTcpCensus.Tcp6Path], files.Reads);
    }

    [Fact]
    public void Lookup_Captured_TheConnectionsThatAreThere()
    {
        var sut = CreateSut(Captured("proc-net-tcp.txt"), Captured("proc-net-tcp6.txt"));
        var results = new List<KernelSocket>();

        Assert.True(sut.Lookup(
            [
                new TcpFourTuple(Source1, 33928, Source1, 45189),                                  // TIME_WAIT
                new TcpFourTuple(IPAddress.Parse("127.0.0.4"), 33949, Source1, 45189),             // the dual-stack one, in tcp6
                new TcpFourTuple(Source1, 33929, Source1, 45189),                                  // not there
            ],
            results).IsOk);

        Assert.Equal([TcpState.TimeWait, TcpState.Established], results.Select(s => s.State));
    }

    [Fact]
    public void ReadFiles_OneMissing_StillAnswers_BothMissing_Fails()
    {
        var noIPv6 = CreateSut(Captured("proc-net-tcp.txt"));
        var none = new ProcNetTcpCensus(new FakeProcFileSystem());

        Assert.True(noIPv6.ReadAll(TcpStateMask.All, out var table).IsOk);
        Assert.Equal([ProcNetTcpCensus.Tcp6Path], table.UnreadableFiles);
        var failed = none.Count(new CensusFilter(null, Listener4, TcpStateMask.Connections, null), out var count);
        Assert.Equal(CensusStatus.Failed, failed.Status);
        Assert.Equal(0, count);
        Assert.Contains("/proc/net/tcp and /proc/net/tcp6 are missing or not readable", failed.Detail, StringComparison.Ordinal);
    }
}
