using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>
/// The reply reader on datagrams a real kernel sent (TestData/README.md says what was held while
/// capturing, and capture_sockdiag.py how), and on replies cut or bent out of shape.
/// </summary>
public sealed class SockDiagReaderTests
{
    private static readonly IPEndPoint Listener4 = IPEndPoint.Parse("127.0.0.1:29950");
    private static readonly IPAddress Source = IPAddress.Parse("127.0.0.5");

    public SockDiagReaderTests()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The replies were captured on a little-endian machine (netlink headers are in host order).");
    }

    internal static byte[] Captured(string name) => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", name));

    [Fact]
    public void Read_CapturedIPv4TupleDump_TwoEstablishedOneTimeWaitThenDone()
    {
        var (sockets, end) = ReadAll(Captured("sockdiag-dump-v4-tuple.bin"), expectedSequence: 1);

        Assert.Equal(SockDiagMessageKind.Done, end.Kind);
        Assert.Equal(0, end.Errno);
        Assert.Equal(3, sockets.Count);
        Assert.Equal(new KernelSocket(Source, 33966, Listener4.Address, Listener4.Port, TcpState.Established, KernelTimer.None, null, 389175, 0, 0), sockets[0]);
        Assert.Equal(new KernelSocket(Source, 33974, Listener4.Address, Listener4.Port, TcpState.Established, KernelTimer.None, null, 389177, 0, 0), sockets[1]);
        // The client closed first: TIME_WAIT, 59,672 ms of its 60 s left, no descriptor.
        Assert.Equal(new KernelSocket(Source, 33977, Listener4.Address, Listener4.Port, TcpState.TimeWait, KernelTimer.TimeWait, TimeSpan.FromMilliseconds(59672), 0, 0, 0), sockets[2]);
    }

    [Fact]
    public void Read_CapturedIPv6Dump_TheLoopbackConnection()
    {
        var (sockets, end) = ReadAll(Captured("sockdiag-dump-v6-tuple.bin"), expectedSequence: 2);

        Assert.Equal(SockDiagMessageKind.Done, end.Kind);
        var socket = Assert.Single(sockets);
        Assert.Equal(new KernelSocket(IPAddress.IPv6Loopback, 33982, IPAddress.IPv6Loopback, 29950, TcpState.Established, KernelTimer.None, null, 389183, 0, 0), socket);
    }

    [Fact]
    public void Read_CapturedDualStackSocket_AddressesComeAsIPv4()
    {
        var (sockets, _) = ReadAll(Captured("sockdiag-dump-v6-mapped.bin"), expectedSequence: 3);

        var socket = Assert.Single(sockets);
        Assert.Equal(IPAddress.Parse("127.0.0.7"), socket.LocalAddress);
        Assert.Equal(Listener4.Address, socket.RemoteAddress);
        Assert.Equal(33977, socket.LocalPort);
    }

    [Fact]
    public void Read_CapturedListener_BacklogInTheSendQueue()
    {
        var (sockets, _) = ReadAll(Captured("sockdiag-dump-v4-listener.bin"), expectedSequence: 4);

        var listener = Assert.Single(sockets);
        Assert.Equal(new KernelSocket(Listener4.Address, 29950, IPAddress.Any, 0, TcpState.Listen, KernelTimer.None, null, 389173, 0, 16), listener);
    }

    [Fact]
    public void Read_CapturedRefusedProgram_ErrorEinval()
    {
        var reader = new SockDiagReader(Captured("sockdiag-error-einval.bin"));

        Assert.Equal(SockDiagMessageKind.Error, reader.Read(out var sequence, out var errno, out _));
        Assert.Equal(5U, sequence);
        Assert.Equal(Errnos.EINVAL, errno);
        Assert.Equal(SockDiagMessageKind.End, reader.Read(out _, out _, out _));
    }

    [Fact]
    public void Read_CapturedExactLookups_FoundThenNoSuchSocket()
    {
        var reader = new SockDiagReader(Captured("sockdiag-exact.bin"));

        Assert.Equal(SockDiagMessageKind.Socket, reader.Read(out var first, out _, out var found));
        Assert.Equal(6U, first);
        Assert.Equal(TcpState.TimeWait, found.State);
        Assert.Equal(33977, found.LocalPort);
        Assert.Equal(783UL, found.Cookie); // the same socket as in the dump
        Assert.Equal(SockDiagMessageKind.Error, reader.Read(out var second, out var errno, out _));
        Assert.Equal(7U, second);
        Assert.Equal(Errnos.ENOENT, errno);
        Assert.Equal(SockDiagMessageKind.End, reader.Read(out _, out _, out _));
    }

    [Fact]
    public void Read_AllCapturesAsOneStream_EveryMessageInOrder()
    {
        string[] files = ["sockdiag-dump-v4-tuple.bin", "sockdiag-dump-v6-tuple.bin", "sockdiag-dump-v6-mapped.bin", "sockdiag-dump-v4-listener.bin", "sockdiag-error-einval.bin", "sockdiag-exact.bin"];
        var stream = files.SelectMany(Captured).ToArray();
        var kinds = new List<SockDiagMessageKind>();
        var reader = new SockDiagReader(stream);

        SockDiagMessageKind kind;
        while ((kind = reader.Read(out _, out _, out _)) != SockDiagMessageKind.End)
        {
            kinds.Add(kind);
        }

        Assert.Equal(6 + 5 + 2, kinds.Count);
        Assert.Equal(7, kinds.Count(k => k == SockDiagMessageKind.Socket));
        Assert.Equal(4, kinds.Count(k => k == SockDiagMessageKind.Done));
        Assert.Equal(2, kinds.Count(k => k == SockDiagMessageKind.Error));
    }

    [Fact]
    public void Read_CaptureCutAtEveryByte_NeverMoreSocketsThanWholeAndMalformedAtMostOnce()
    {
        var whole = Captured("sockdiag-dump-v4-tuple.bin");

        for (var length = 0; length <= whole.Length; length++)
        {
            var reader = new SockDiagReader(whole.AsSpan(0, length));
            var sockets = 0;
            var malformed = 0;
            SockDiagMessageKind kind;
            while ((kind = reader.Read(out _, out _, out _)) != SockDiagMessageKind.End)
            {
                sockets += kind == SockDiagMessageKind.Socket ? 1 : 0;
                malformed += kind == SockDiagMessageKind.Malformed ? 1 : 0;
            }

            Assert.True(sockets <= 3, $"cut at {length}: {sockets} sockets");
            Assert.True(malformed <= 1, $"cut at {length}: {malformed} malformed");
        }
    }

    [Theory]
    [InlineData(8)]      // shorter than a header
    [InlineData(15)]
    [InlineData(0x7C00)] // a length past the data
    public void Read_HeaderLengthThatCannotBeTrusted_MalformedThenNothingMore(int length)
    {
        var data = Captured("sockdiag-dump-v4-tuple.bin");
        BitConverter.TryWriteBytes(data.AsSpan(0, 4), (uint)length);
        var reader = new SockDiagReader(data);

        Assert.Equal(SockDiagMessageKind.Malformed, reader.Read(out _, out _, out _));
        Assert.Equal(SockDiagMessageKind.End, reader.Read(out _, out _, out _));
    }

    [Theory]
    [InlineData(16, 7)]   // family 7: neither AF_INET nor AF_INET6
    [InlineData(17, 0)]   // state 0
    [InlineData(17, 13)]  // state 13 (TCP_BOUND_INACTIVE: never asked for)
    [InlineData(18, 9)]   // timer 9
    public void Read_SocketMessageOutOfShape_MalformedAndTheNextStillRead(int offset, byte value)
    {
        var data = Captured("sockdiag-dump-v4-tuple.bin");
        data[offset] = value;
        var reader = new SockDiagReader(data);

        Assert.Equal(SockDiagMessageKind.Malformed, reader.Read(out _, out _, out _));
        Assert.Equal(SockDiagMessageKind.Socket, reader.Read(out _, out _, out var next));
        Assert.Equal(33974, next.LocalPort);
    }

    [Fact]
    public void Read_NoopMessages_Skipped()
    {
        byte[] noop = [16, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        var reader = new SockDiagReader([.. noop, .. Captured("sockdiag-dump-v4-listener.bin")]);

        Assert.Equal(SockDiagMessageKind.Socket, reader.Read(out _, out _, out _));
    }

    internal static (List<KernelSocket> Sockets, (SockDiagMessageKind Kind, int Errno) End) ReadAll(byte[] data, uint expectedSequence)
    {
        var reader = new SockDiagReader(data);
        var sockets = new List<KernelSocket>();
        while (true)
        {
            var kind = reader.Read(out var sequence, out var errno, out var record);
            if (kind == SockDiagMessageKind.End)
            {
                return (sockets, (kind, 0));
            }

            Assert.Equal(expectedSequence, sequence);
            if (kind != SockDiagMessageKind.Socket)
            {
                Assert.Equal(SockDiagMessageKind.End, reader.Read(out _, out _, out _));
                return (sockets, (kind, errno));
            }

            sockets.Add(record.ToKernelSocket());
        }
    }
}
