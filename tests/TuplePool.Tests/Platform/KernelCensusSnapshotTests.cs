using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

public class KernelCensusSnapshotTests
{
    private static readonly IPEndPoint Destination = IPEndPoint.Parse("10.0.0.9:443");
    private static readonly IPAddress SourceA = IPAddress.Parse("10.0.0.1");
    private static readonly IPAddress SourceB = IPAddress.Parse("10.0.0.2");

    private static KernelCensusEntry Entry(IPAddress local, IPEndPoint remote, TcpState state, int localPort = 40000)
        => new(local, localPort, remote.Address, remote.Port, state);

    private static KernelCensusSnapshot CreateSut() => KernelCensusSnapshot.FromEntries(
    [
        Entry(SourceA, Destination, TcpState.Established, 40000),
        Entry(SourceA, Destination, TcpState.Established, 40001),
        Entry(SourceA, Destination, TcpState.TimeWait, 40002),
        Entry(SourceA, Destination, TcpState.SynSent, 40003),
        Entry(SourceB, Destination, TcpState.FinWait2, 40000),
        Entry(SourceA, IPEndPoint.Parse("10.0.0.9:80"), TcpState.Established),
        Entry(SourceA, IPEndPoint.Parse("10.0.0.8:443"), TcpState.Established),
        Entry(IPAddress.Parse("10.0.0.9"), new IPEndPoint(IPAddress.Any, 0), TcpState.Listen),
        Entry(IPAddress.Parse("fe80::1"), IPEndPoint.Parse("[fe80::2]:443"), TcpState.Established),
        Entry(IPAddress.Parse("::ffff:10.0.0.3"), IPEndPoint.Parse("[::ffff:10.0.0.9]:443"), TcpState.Established),
    ]);

    [Fact]
    public void CountUsing_OneSource_AllNonListenStatesToThatDestinationPort()
        => Assert.Equal(4, CreateSut().CountUsing(SourceA, Destination));

    [Fact]
    public void CountUsing_LocalPorts_OnlySocketsWhosePortIsInside()
    {
        var sut = CreateSut();

        Assert.Equal(2, sut.CountUsing(SourceA, Destination, new PortRange(40001, 40002)));
        Assert.Equal(4, sut.CountUsing(SourceA, Destination, new PortRange(40000, 40003)));
        Assert.Equal(0, sut.CountUsing(SourceA, Destination, new PortRange(40004, 60999)));
        Assert.Equal(3, sut.CountUsing(IPAddress.Any, Destination, new PortRange(40000, 40000))); // A's, B's and the mapped one's
    }

    [Fact]
    public void Count_OneState_OnlyThatState()
    {
        var sut = CreateSut();

        Assert.Equal(2, sut.Count(SourceA, Destination, TcpState.Established));
        Assert.Equal(1, sut.Count(SourceA, Destination, TcpState.TimeWait));
        Assert.Equal(0, sut.Count(SourceA, Destination, TcpState.CloseWait));
        Assert.Equal(1, sut.Count(SourceB, Destination, TcpState.FinWait2));
    }

    [Fact]
    public void CountUsing_WildcardSource_EverySource()
    {
        var sut = CreateSut();

        Assert.Equal(6, sut.CountUsing(IPAddress.Any, Destination));
        Assert.Equal(6, sut.CountUsing(IPAddress.IPv6Any, Destination));
        Assert.Equal(6, sut.CountUsing(IPAddress.Parse("::ffff:0.0.0.0"), Destination));
    }

    [Fact]
    public void CountUsing_MappedEntryOrQuery_SameAsIPv4()
    {
        var sut = CreateSut();

        Assert.Equal(1, sut.CountUsing(IPAddress.Parse("10.0.0.3"), Destination));
        Assert.Equal(1, sut.CountUsing(IPAddress.Parse("::ffff:10.0.0.3"), IPEndPoint.Parse("[::ffff:10.0.0.9]:443")));
        Assert.Equal(4, sut.CountUsing(SourceA.MapToIPv6(), Destination));
    }

    [Fact]
    public void CountUsing_IPv6ScopeId_Ignored()
    {
        var sut = CreateSut();

        Assert.Equal(1, sut.CountUsing(IPAddress.Parse("fe80::1%2"), IPEndPoint.Parse("[fe80::2%2]:443")));
    }

    [Fact]
    public void CountUsing_ListenState_NotCountedButCountableByState()
    {
        var sut = CreateSut();
        var anyRemote = new IPEndPoint(IPAddress.Any, 0);

        Assert.Equal(0, sut.CountUsing(IPAddress.Parse("10.0.0.9"), anyRemote));
        Assert.Equal(1, sut.Count(IPAddress.Parse("10.0.0.9"), anyRemote, TcpState.Listen));
    }

    [Fact]
    public void CountUsing_OtherPortOrAddress_NotCounted()
    {
        var sut = CreateSut();

        Assert.Equal(1, sut.CountUsing(SourceA, IPEndPoint.Parse("10.0.0.9:80")));
        Assert.Equal(1, sut.CountUsing(SourceA, IPEndPoint.Parse("10.0.0.8:443")));
        Assert.Equal(0, sut.CountUsing(SourceA, IPEndPoint.Parse("10.0.0.9:444")));
        Assert.Equal(0, sut.CountUsing(IPAddress.Parse("10.0.0.4"), Destination));
    }

    [Fact]
    public void Empty_NothingCounted()
    {
        Assert.Equal(0, KernelCensusSnapshot.Empty.TotalSockets);
        Assert.Equal(0, KernelCensusSnapshot.Empty.CountUsing(IPAddress.Any, Destination));
        Assert.Equal(0, KernelCensusSnapshot.Empty.MalformedLines);
        Assert.Empty(KernelCensusSnapshot.Empty.UnreadableFiles);
    }

    [Fact]
    public void TotalSockets_Entries_AllCountedListenIncluded()
        => Assert.Equal(10, CreateSut().TotalSockets);
}
