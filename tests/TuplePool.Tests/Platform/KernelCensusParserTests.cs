using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>
/// On text captured from a real kernel (TestData/README.md says what was held while capturing).
/// </summary>
public class KernelCensusParserTests
{
    // Captured on x86_64, so the address words are little-endian.
    private const bool CapturedLittleEndian = true;

    private static readonly IPAddress Source1 = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Source2 = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress Source3 = IPAddress.Parse("127.0.0.3");
    private static readonly IPAddress MappedSource = IPAddress.Parse("127.0.0.4");
    private static readonly IPEndPoint Listener4 = IPEndPoint.Parse("127.0.0.1:45189");
    private static readonly IPEndPoint Listener6 = IPEndPoint.Parse("[::1]:38885");

    // A real ESTABLISHED line from the capture.
    private const string GoodLine = "   4: 0100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 00000000b52c2b6a 20 4 30 10 -1";

    private static string Captured(string name) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", name));

    // The two files read as one text: the second header line is skipped like the first.
    private static KernelCensusSnapshot ParseBoth(string tcp, string tcp6) => KernelCensusParser.Parse(tcp + tcp6, CapturedLittleEndian);

    private static KernelCensusSnapshot ParseCaptured() => ParseBoth(Captured("proc-net-tcp.txt"), Captured("proc-net-tcp6.txt"));

    [Fact]
    public void Parse_CapturedTcp_EveryLineCounted()
    {
        var sut = KernelCensusParser.Parse(Captured("proc-net-tcp.txt"), CapturedLittleEndian);

        Assert.Equal(0, sut.MalformedLines);
        Assert.Equal(10, sut.TotalSockets);
    }

    [Fact]
    public void Parse_CapturedTcp6_EveryLineCounted()
    {
        var sut = KernelCensusParser.Parse(Captured("proc-net-tcp6.txt"), CapturedLittleEndian);

        Assert.Equal(0, sut.MalformedLines);
        Assert.Equal(4, sut.TotalSockets);
    }

    [Fact]
    public void CountUsing_CapturedWithLocalPorts_KeepsEachSocketsOwnPort()
    {
        // Source1's two sockets to Listener4 hold local ports 33926 (ESTABLISHED) and 33928 (TIME_WAIT).
        var sut = ParseCaptured();

        Assert.Equal(1, sut.CountUsing(Source1, Listener4, new PortRange(33926, 33927)));
        Assert.Equal(1, sut.CountUsing(Source1, Listener4, new PortRange(33928, 33928)));
        Assert.Equal(2, sut.CountUsing(Source1, Listener4, new PortRange(32768, 60999)));
        Assert.Equal(0, sut.CountUsing(Source1, Listener4, new PortRange(40000, 40099)));
    }

    [Fact]
    public void CountUsing_CapturedFromOneSource_EstablishedAndTimeWait()
    {
        var sut = ParseCaptured();

        Assert.Equal(2, sut.CountUsing(Source1, Listener4));
        Assert.Equal(1, sut.Count(Source1, Listener4, TcpState.Established));
        Assert.Equal(1, sut.Count(Source1, Listener4, TcpState.TimeWait));
        Assert.Equal(0, sut.Count(Source1, Listener4, TcpState.CloseWait));
    }

    [Fact]
    public void CountUsing_CapturedOtherSources_EachCountedApart()
    {
        var sut = ParseCaptured();

        Assert.Equal(1, sut.CountUsing(Source2, Listener4));
        Assert.Equal(1, sut.Count(Source2, Listener4, TcpState.Established));
        Assert.Equal(1, sut.CountUsing(Source3, Listener4));
        Assert.Equal(1, sut.Count(Source3, Listener4, TcpState.CloseWait));
        Assert.Equal(0, sut.CountUsing(IPAddress.Parse("127.0.0.9"), Listener4));
    }

    [Fact]
    public void CountUsing_CapturedDualStackSocket_CountedAsIPv4()
    {
        var sut = ParseCaptured();

        // The socket is only in tcp6, as ::ffff:127.0.0.4 -> ::ffff:127.0.0.1:45189.
        Assert.Equal(1, sut.CountUsing(MappedSource, Listener4));
        Assert.Equal(1, sut.CountUsing(MappedSource.MapToIPv6(), new IPEndPoint(Listener4.Address.MapToIPv6(), Listener4.Port)));
        Assert.Equal(1, sut.Count(MappedSource, Listener4, TcpState.Established));
    }

    [Fact]
    public void CountUsing_CapturedWildcardSource_EverySourceOfTheDestination()
    {
        var sut = ParseCaptured();

        // 127.0.0.1 x2, .2, .3, and the mapped .4.
        Assert.Equal(5, sut.CountUsing(IPAddress.Any, Listener4));
        Assert.Equal(5, sut.CountUsing(IPAddress.IPv6Any, Listener4));
        Assert.Equal(1, sut.Count(IPAddress.Any, Listener4, TcpState.TimeWait));
    }

    [Fact]
    public void CountUsing_CapturedIPv6_OnlyIPv6Source()
    {
        var sut = ParseCaptured();

        Assert.Equal(1, sut.CountUsing(IPAddress.IPv6Loopback, Listener6));
        Assert.Equal(1, sut.CountUsing(IPAddress.IPv6Any, Listener6));
        Assert.Equal(1, sut.Count(IPAddress.IPv6Loopback, Listener6, TcpState.Established));
        Assert.Equal(0, sut.CountUsing(Source1, Listener6));
    }

    [Fact]
    public void Count_CapturedServerSide_RemoteIsTheClient()
    {
        var sut = ParseCaptured();

        // The server half of the server-closed-first connection waits in FIN_WAIT2.
        Assert.Equal(1, sut.Count(Source1, IPEndPoint.Parse("127.0.0.3:33932"), TcpState.FinWait2));
        Assert.Equal(1, sut.CountUsing(Source1, IPEndPoint.Parse("127.0.0.4:33949")));
        Assert.Equal(1, sut.CountUsing(IPAddress.IPv6Loopback, IPEndPoint.Parse("[::1]:33940")));
    }

    [Fact]
    public void CountUsing_CapturedListeners_Excluded()
    {
        var sut = ParseCaptured();
        var anyRemote4 = new IPEndPoint(IPAddress.Any, 0);

        Assert.Equal(1, sut.Count(Source1, anyRemote4, TcpState.Listen));
        Assert.Equal(2, sut.Count(IPAddress.Any, anyRemote4, TcpState.Listen));
        Assert.Equal(1, sut.Count(IPAddress.IPv6Loopback, new IPEndPoint(IPAddress.IPv6Any, 0), TcpState.Listen));
        Assert.Equal(0, sut.CountUsing(IPAddress.Any, anyRemote4));
        Assert.Equal(0, sut.CountUsing(IPAddress.IPv6Any, new IPEndPoint(IPAddress.IPv6Any, 0)));
    }

    [Fact]
    public void TryParseLine_CapturedListenerLine_AllFields()
    {
        var line = Captured("proc-net-tcp.txt").Split('\n')[1];

        Assert.True(KernelCensusParser.TryParseLine(line, CapturedLittleEndian, out var entry));

        Assert.Equal(new KernelCensusEntry(Source1, 45189, IPAddress.Any, 0, TcpState.Listen), entry);
    }

    [Fact]
    public void TryParseLine_CapturedMappedLine_IPv4Addresses()
    {
        var line = Captured("proc-net-tcp6.txt").Split('\n')[2];

        Assert.True(KernelCensusParser.TryParseLine(line, CapturedLittleEndian, out var entry));

        Assert.Equal(new KernelCensusEntry(MappedSource, 33949, Source1, 45189, TcpState.Established), entry);
    }

    [Fact]
    public void TryParseLine_BigEndianMachine_WordsReadMostSignificantFirst()
    {
        // What a big-endian kernel prints for 127.0.0.1:8080 -> 10.1.2.3:443, and ::1 in tcp6.
        const string rest = " 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000";

        Assert.True(KernelCensusParser.TryParseLine("   0: 7F000001:1F90 0A010203:01BB" + rest, isLittleEndian: false, out var v4));
        Assert.True(KernelCensusParser.TryParseLine(
            "   0: 00000000000000000000000000000001:1F90 20010DB8000000000000000000000001:01BB" + rest, isLittleEndian: false, out var v6));

        Assert.Equal(new KernelCensusEntry(Source1, 8080, IPAddress.Parse("10.1.2.3"), 443, TcpState.Established), v4);
        Assert.Equal(new KernelCensusEntry(IPAddress.IPv6Loopback, 8080, IPAddress.Parse("2001:db8::1"), 443, TcpState.Established), v6);
    }

    [Fact]
    public void TryParseLine_LowercaseHex_Parsed()
    {
        Assert.True(KernelCensusParser.TryParseLine(GoodLine.Replace("0100007F:B085", "0100007f:b085", StringComparison.Ordinal), CapturedLittleEndian, out var entry));

        Assert.Equal(45189, entry.LocalPort);
    }

    [Theory]
    [InlineData("   4: 0100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0")] // truncated after timeout
    [InlineData("   4: 0100007F:B085 0100007F:8486 01")] // truncated after state
    [InlineData("   4: 0100007F:B085 0100007F:84")] // truncated in an address
    [InlineData("   4: 0100007F:B085")]
    [InlineData("   4:")]
    [InlineData("   4: 0100007G:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // bad hex in address
    [InlineData("   4: 0100007F:B08Z 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // bad hex in port
    [InlineData("   4: 0100007F:B085 0100007F:8486 0X 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // bad hex state
    [InlineData("   4: 0100007F:B085 0100007F:8486 00 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // state 0 unknown
    [InlineData("   4: 0100007F:B085 0100007F:8486 0D 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // state 13 unknown
    [InlineData("   4: 0100007F:B085 0100007F:8486 1 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // one-digit state
    [InlineData("   4: 100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // 7-digit address
    [InlineData("   4: 0100007F:B0850 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // 5-digit port
    [InlineData("   4: 0100007F 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // no port
    [InlineData("   4: +100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // sign
    [InlineData("   4: 0100007F:B085 00000000000000000000000001000000:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // mixed families
    [InlineData("   x: 0100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // bad slot
    [InlineData("   4 0100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // slot without colon
    [InlineData("0100007F:B085 0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // slot missing
    [InlineData("   4: 0100007F:B085\t0100007F:8486 01 00000000:00000000 00:00000000 00000000     0        0 28953 1 0")] // tab, not the kernel's
    public void TryParseLine_MalformedLine_False(string line)
    {
        Assert.True(KernelCensusParser.TryParseLine(GoodLine, CapturedLittleEndian, out _), "the good line must parse for the bad ones to mean anything");

        Assert.False(KernelCensusParser.TryParseLine(line, CapturedLittleEndian, out var entry));
        Assert.Equal(default, entry);
    }

    [Fact]
    public void Parse_EmptyText_NothingCountedNothingMalformed()
    {
        var sut = KernelCensusParser.Parse("", CapturedLittleEndian);

        Assert.Equal(0, sut.MalformedLines);
        Assert.Equal(0, sut.TotalSockets);
    }

    [Fact]
    public void Parse_HeaderAndBlankLinesOnly_NothingCountedNothingMalformed()
    {
        var header = Captured("proc-net-tcp.txt").Split('\n')[0];

        var sut = KernelCensusParser.Parse(header + "\n\n   \n" + header + "\n", CapturedLittleEndian);

        Assert.Equal(0, sut.MalformedLines);
        Assert.Equal(0, sut.TotalSockets);
    }

    [Fact]
    public void Parse_CapturedTextWithGarbageLines_GarbageCountedRestStillParsed()
    {
        var lines = Captured("proc-net-tcp.txt").Split('\n').ToList();
        lines.Insert(3, "garbage");
        lines.Insert(5, GoodLine[..40]);
        lines.Insert(7, "\0\0\0");
        lines.Add("   10: 0100007F:B085"); // a last line cut short

        var sut = KernelCensusParser.Parse(string.Join('\n', lines), CapturedLittleEndian);

        Assert.Equal(4, sut.MalformedLines);
        Assert.Equal(10, sut.TotalSockets);
        Assert.Equal(1, sut.Count(Source1, Listener4, TcpState.TimeWait));
    }

    [Fact]
    public void Parse_CapturedTextCutAtEveryCharacter_NeverThrowsAndNeverOvercounts()
    {
        var text = Captured("proc-net-tcp.txt") + Captured("proc-net-tcp6.txt");

        for (var length = 0; length <= text.Length; length++)
        {
            var sut = KernelCensusParser.Parse(text[..length], CapturedLittleEndian);

            Assert.True(sut.TotalSockets <= 14, $"cut at {length}: {sut.TotalSockets} sockets");
            Assert.True(sut.MalformedLines <= 1, $"cut at {length}: {sut.MalformedLines} malformed");
        }
    }

    [Fact]
    public void Parse_CrLfLineEnds_Parsed()
    {
        var sut = KernelCensusParser.Parse(Captured("proc-net-tcp.txt").Replace("\n", "\r\n", StringComparison.Ordinal), CapturedLittleEndian);

        Assert.Equal(0, sut.MalformedLines);
        Assert.Equal(10, sut.TotalSockets);
    }
}
