using System.Net;
using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>
/// The requests, byte for byte against the ones capture_sockdiag.py sent when it captured the
/// replies in TestData (built there by hand from linux/inet_diag.h), and each shape of filter
/// program sent to this host's kernel, which audits it (inet_diag_bc_audit) before it runs it.
/// </summary>
public sealed class SockDiagRequestTests
{
    private static readonly IPEndPoint Listener4 = IPEndPoint.Parse("127.0.0.1:29950");
    private static readonly IPEndPoint Listener6 = IPEndPoint.Parse("[::1]:29950");

    [Fact]
    public void WriteDump_IPv4SourceAndDestination_AsCaptured()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The requests were captured on a little-endian machine.");
        var filter = new CensusFilter(IPAddress.Parse("127.0.0.5"), Listener4, TcpStateMask.Connections, null);

        Assert.Equal(SockDiagReaderTests.Captured("sockdiag-request-v4-tuple.bin"), Dump(SockDiagRequest.AfInet, filter, 1));
    }

    [Fact]
    public void WriteDump_IPv6AnySourceWithLocalPortRange_AsCaptured()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The requests were captured on a little-endian machine.");
        var filter = new CensusFilter(null, Listener6, TcpStateMask.Connections, new PortRange(33950, 33999));

        Assert.Equal(SockDiagReaderTests.Captured("sockdiag-request-v6-tuple.bin"), Dump(SockDiagRequest.AfInet6, filter, 2));
    }

    [Fact]
    public void WriteDump_AF_INET6DumpOfAnIPv4Tuple_MappedAddressesAsCaptured()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The requests were captured on a little-endian machine.");
        var filter = new CensusFilter(IPAddress.Any, Listener4, TcpStateMask.Connections, null);

        Assert.Equal(SockDiagReaderTests.Captured("sockdiag-request-v6-mapped.bin"), Dump(SockDiagRequest.AfInet6, filter, 3));
    }

    [Fact]
    public void WriteExact_FourTuple_AsCaptured()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "The requests were captured on a little-endian machine.");
        Span<byte> request = stackalloc byte[SockDiagRequest.ExactLength];
        Assert.True(AddressBits.TryFrom(IPAddress.Parse("127.0.0.5"), out var local));
        Assert.True(AddressBits.TryFrom(Listener4.Address, out var remote));

        var length = SockDiagRequest.WriteExact(request, local, 33977, remote, Listener4.Port, 6);

        Assert.Equal(SockDiagReaderTests.Captured("sockdiag-request-exact.bin"), request[..length].ToArray());
    }

    [Fact]
    public void Bytecode_EveryConditionRejectsPastTheEnd()
    {
        var program = new byte[SockDiagBytecode.MaxLength];
        var filter = new CensusFilter(IPAddress.Parse("2001:db8::1"), IPEndPoint.Parse("[2001:db8::2]:443"), TcpStateMask.Connections, new PortRange(40000, 40099));

        var length = SockDiagBytecode.Write(program, SockDiagRequest.AfInet6, filter);

        Assert.Equal(SockDiagBytecode.MaxLength, length); // the longest program there is
        var offsets = new List<int>();
        for (var at = 0; at < length; at += program[at + 1])
        {
            offsets.Add(at);
            Assert.Equal(length - at + 4, BitConverter.ToUInt16(program, at + 2)); // "no" lands 4 past the end
        }

        Assert.Equal([0, 28, 56, 64], offsets);
        Assert.Equal([SockDiagBytecode.SourceCondition, SockDiagBytecode.DestinationCondition, SockDiagBytecode.SourceGreaterOrEqual, SockDiagBytecode.SourceLessOrEqual], offsets.Select(o => program[o]));
        Assert.Equal(443, BitConverter.ToInt32(program, 28 + 8));
        Assert.Equal(-1, BitConverter.ToInt32(program, 8));
        Assert.Equal(40000, BitConverter.ToUInt16(program, 56 + 6));
        Assert.Equal(40099, BitConverter.ToUInt16(program, 64 + 6));
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1:29950", false)]
    [InlineData(null, "127.0.0.1:29950", true)]
    [InlineData("::1", "[::1]:29950", true)]
    [InlineData(null, "[::1]:29950", false)]
    public void EveryProgramShape_TheKernelTakesIt(string? source, string destination, bool withPorts)
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "NETLINK_SOCK_DIAG is Linux only.");
        Assert.SkipUnless(SockDiagCensus.Default.Probe().IsOk, "This host refuses NETLINK_SOCK_DIAG.");
        var filter = new CensusFilter(source is null ? null : IPAddress.Parse(source), IPEndPoint.Parse(destination), TcpStateMask.Connections, withPorts ? new PortRange(33000, 33999) : null);
        byte[] families = filter.IsIPv4 ? [SockDiagRequest.AfInet, SockDiagRequest.AfInet6] : [SockDiagRequest.AfInet6];

        foreach (var family in families)
        {
            var request = Dump(family, filter, 1);
            Assert.True(NetlinkSocket.TryOpen(out var socket, out var errno), $"errno {errno}");
            using (socket)
            {
                Assert.Equal(0, socket.Send(request));
                var buffer = new byte[SockDiagCensus.DefaultReceiveBufferSize];
                SockDiagMessageKind kind;
                do
                {
                    var received = socket.Receive(buffer, out errno);
                    Assert.True(received > 0, $"errno {errno}");
                    var reader = new SockDiagReader(buffer.AsSpan(0, received));
                    while ((kind = reader.Read(out _, out errno, out _)) == SockDiagMessageKind.Socket)
                    {
                    }
                }
                while (kind == SockDiagMessageKind.End);

                Assert.True(kind == SockDiagMessageKind.Done && errno == 0, $"family {family}: {kind} {Errnos.Name(errno)}");
            }
        }
    }

    private static byte[] Dump(byte family, in CensusFilter filter, uint sequence)
    {
        var request = new byte[SockDiagRequest.MaxLength];
        var length = SockDiagRequest.WriteDump(request, family, filter.States, sequence, filter);
        return request[..length];
    }
}
