using System.Buffers.Binary;
using System.Net;
using CsCheck;
using TuplePool.Platform;

namespace TuplePool.Tests.Fuzz;

/// <summary>
/// The netlink reply reader against generated and mutated bytes, and the filter program against
/// a port of the kernel's own interpreter. The reader's contract: it never throws on content,
/// always ends, and a message in the kernel's shape comes back as the socket it describes. The
/// program's: the kernel's audit takes it, and it passes exactly the sockets the filter matches.
/// </summary>
public sealed class SockDiagFuzzTests
{
    private const int Iterations = KernelCensusParserFuzzTests.Iterations;

    private static readonly byte[][] Captured =
    [
        .. new[] { "sockdiag-dump-v4-tuple.bin", "sockdiag-dump-v6-tuple.bin", "sockdiag-dump-v6-mapped.bin", "sockdiag-dump-v4-listener.bin", "sockdiag-error-einval.bin", "sockdiag-exact.bin" }
            .Select(name => File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", name))),
    ];

    private static readonly Gen<UInt128> IPv4Bits = Gen.UInt.Select(v => ((UInt128)0xFFFF << 32) | v);

    private static readonly Gen<UInt128> IPv6Bits = Gen.Frequency(
        (4, Gen.Select(Gen.ULong, Gen.ULong, (high, low) => ((UInt128)high << 64) | low)),
        (1, IPv4Bits),
        (1, Gen.Const((UInt128)1)));

    // One socket as the kernel would report it: family, then the fields of inet_diag_msg.
    private static readonly Gen<(uint ReceiveQueue, uint SendQueue, uint Inode, ulong Cookie)> Counters =
        Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, Gen.ULong, (rq, wq, inode, cookie) => (rq, wq, inode, cookie));

    private static readonly Gen<(bool V6, SocketRecord Record)> Socket =
        Gen.Bool.SelectMany(v6 => Gen.Select(
            Gen.Select(v6 ? IPv6Bits : IPv4Bits, Gen.Int[0, 65535], v6 ? IPv6Bits : IPv4Bits, Gen.Int[0, 65535], (local, lport, remote, rport) => (local, lport, remote, rport)),
            Gen.Select(Gen.Int[1, 12], Gen.Int[0, 4], Gen.Int[0, int.MaxValue], (state, timer, expires) => (state, timer, expires)),
            Counters,
            (ends, what, counters) => (v6, new SocketRecord(
                ends.local, ends.lport, ends.remote, ends.rport, (TcpState)what.state, (KernelTimer)what.timer, what.timer == 0 ? 0 : what.expires,
                counters.ReceiveQueue, counters.SendQueue, counters.Inode, counters.Cookie))));

    private static readonly Gen<byte[]> Mutated =
        Gen.Select(
            Gen.OneOf(Gen.OneOf(Captured), Socket.Array[1, 6].Select(sockets => sockets.SelectMany(s => Message(s.V6, s.Record, 1)).ToArray())),
            Gen.Select(Gen.Int[0, 4], Gen.Double[0, 1], Gen.Int[1, 40], Gen.Byte).Array[1, 8],
            static (byte[] data, (int Kind, double Where, int Length, byte B)[] edits) =>
            {
                var bytes = data.ToList();
                foreach (var (kind, where, length, b) in edits)
                {
                    var at = (int)(where * bytes.Count);
                    var count = Math.Min(length, bytes.Count - at);
                    switch (kind)
                    {
                        case 0: if (at < bytes.Count) { bytes[at] = b; } break;           // replace
                        case 1: bytes.Insert(at, b); break;                               // insert
                        case 2: bytes.RemoveRange(at, count); break;                      // delete a run
                        case 3: bytes.RemoveRange(at, bytes.Count - at); break;           // truncate
                        default: bytes.InsertRange(at, bytes.GetRange(at, count)); break; // repeat a run
                    }
                }

                return bytes.ToArray();
            });

    [Fact]
    public void Read_MessagesInTheKernelsShape_ComeBackAsTheSocketTheyDescribe()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "Messages are generated in this machine's byte order; the expected values assume little-endian cookies.");
        var tried = 0;
        Socket.Array[1, 5].Sample(sockets =>
        {
            Interlocked.Increment(ref tried);
            var reader = new SockDiagReader(sockets.SelectMany(s => Message(s.V6, s.Record, 7)).ToArray());
            foreach (var (_, expected) in sockets)
            {
                Assert.Equal(SockDiagMessageKind.Socket, reader.Read(out var sequence, out _, out var record));
                Assert.Equal(7U, sequence);
                Assert.Equal(expected.ToKernelSocket(), record.ToKernelSocket());
                Assert.Equal(expected.Cookie, record.Cookie);
            }

            Assert.Equal(SockDiagMessageKind.End, reader.Read(out _, out _, out _));
        }, iter: Iterations);

        Report(tried, "generated replies");
    }

    [Fact]
    public void Read_MutatedReplies_NeverThrowAlwaysEndEverySocketInRange()
    {
        var tried = 0;
        var malformedSeen = 0L;
        Mutated.Sample(data =>
        {
            Interlocked.Increment(ref tried);
            var reader = new SockDiagReader(data);
            var messages = 0;
            SockDiagMessageKind kind;
            while ((kind = reader.Read(out _, out var errno, out var record)) != SockDiagMessageKind.End)
            {
                messages++;
                Assert.True(messages <= (data.Length / 16) + 1, "the reader went on past the bytes it had");
                switch (kind)
                {
                    case SockDiagMessageKind.Socket:
                        var socket = record.ToKernelSocket(); // an address, a timer: whatever the bytes, a socket
                        Assert.InRange(socket.LocalPort, 0, 65535);
                        Assert.InRange((int)socket.State, (int)TcpState.Established, (int)TcpState.NewSynRecv);
                        Assert.InRange((int)socket.Timer, 0, 4);
                        Assert.True(socket.TimerLeft is null || socket.TimerLeft.Value >= TimeSpan.Zero);
                        break;
                    case SockDiagMessageKind.Error or SockDiagMessageKind.Done:
                        Assert.True(errno >= 0);
                        break;
                    case SockDiagMessageKind.Malformed:
                        Interlocked.Increment(ref malformedSeen);
                        break;
                }
            }
        }, iter: Iterations);

        Assert.True(malformedSeen > 0, "the mutations never produced a malformed message");
        Report(tried, $"mutated replies ({malformedSeen} malformed messages)");
    }

    [Fact]
    public void Read_ArbitraryBytes_NeverThrow()
    {
        var tried = 0;
        Gen.Byte.Array[0, 600].Sample(data =>
        {
            Interlocked.Increment(ref tried);
            var reader = new SockDiagReader(data);
            var messages = 0;
            while (reader.Read(out _, out _, out var record) != SockDiagMessageKind.End)
            {
                _ = record.ToKernelSocket();
                Assert.True(++messages <= (data.Length / 16) + 1);
            }
        }, iter: Iterations);

        Report(tried, "arbitrary byte strings");
    }

    [Fact]
    public void Bytecode_PassesTheKernelsAudit_AndMatchesExactlyWhatTheFilterMatches()
    {
        var filters = Gen.Select(
            Gen.Bool, Gen.Bool, Gen.Bool, Gen.Int[0, 65535], Gen.Int[0, 65535], Gen.Int[0, 65535],
            (v6, withSource, withPorts, port, first, last) => (v6, withSource, withPorts, port, first, last));
        var tried = 0;
        var passed = 0;
        var rejected = 0;
        Gen.Select(filters, Socket, Gen.Bool).Sample((f, s, sameTuple) =>
        {
            Interlocked.Increment(ref tried);
            var destination = new IPEndPoint(f.v6 ? IPAddress.Parse("2001:db8::2") : IPAddress.Parse("192.0.2.2"), f.port);
            var source = f.withSource ? (f.v6 ? IPAddress.Parse("2001:db8::1") : IPAddress.Parse("192.0.2.1")) : null;
            var filter = new CensusFilter(source, destination, TcpStateMask.All, f.withPorts ? new PortRange(Math.Min(f.first, f.last), Math.Max(f.first, f.last)) : null);

            // Half the time a socket on the filter's tuple (so conditions pass), else anything.
            var record = s.Record;
            if (sameTuple)
            {
                Assert.True(AddressBits.TryFrom(destination.Address, out var remote));
                var local = filter.HasSource ? filter.Source : record.LocalAddress;
                record = new SocketRecord(local, record.LocalPort, remote, destination.Port, record.State, record.Timer, record.TimerMilliseconds, 0, 0, 0, 0);
            }

            foreach (var family in filter.IsIPv4 ? new[] { SockDiagRequest.AfInet, SockDiagRequest.AfInet6 } : [SockDiagRequest.AfInet6])
            {
                var program = new byte[SockDiagBytecode.MaxLength];
                var length = SockDiagBytecode.Write(program, family, filter);
                Assert.True(KernelAudit(program.AsSpan(0, length)), $"the kernel's audit refuses the program for family {family}");

                // The kernel runs the program on the sockets of the family it dumps: an AF_INET
                // socket has IPv4 addresses; an AF_INET6 one may have any (mapped when dual-stack).
                var dumped = family == SockDiagRequest.AfInet6 || (AddressBits.IsIPv4(record.LocalAddress) && AddressBits.IsIPv4(record.RemoteAddress));
                if (!dumped)
                {
                    continue;
                }

                var passes = KernelRun(program.AsSpan(0, length), family, record);
                Assert.Equal(filter.Matches(record), passes);
                Interlocked.Increment(ref passes ? ref passed : ref rejected);
            }
        }, iter: Iterations);

        Assert.True(passed > 0 && rejected > 0, $"{passed} passed, {rejected} rejected: both outcomes must be tried");
        Report(tried, $"filters and sockets ({passed} passed the program, {rejected} did not)");
    }

    /// <summary>An <c>inet_diag_msg</c> in a netlink message, as the kernel writes it (host byte order headers).</summary>
    internal static byte[] Message(bool v6, in SocketRecord socket, uint sequence)
    {
        var message = new byte[SockDiagRequest.HeaderLength + SockDiagReader.InetDiagMessageLength + 8];
        BitConverter.TryWriteBytes(message.AsSpan(0, 4), (uint)message.Length);
        BitConverter.TryWriteBytes(message.AsSpan(4, 2), SockDiagRequest.SockDiagByFamily);
        BitConverter.TryWriteBytes(message.AsSpan(6, 2), (ushort)2); // NLM_F_MULTI
        BitConverter.TryWriteBytes(message.AsSpan(8, 4), sequence);
        var body = message.AsSpan(SockDiagRequest.HeaderLength);
        body[0] = v6 ? SockDiagRequest.AfInet6 : SockDiagRequest.AfInet;
        body[1] = (byte)socket.State;
        body[2] = (byte)socket.Timer;
        BinaryPrimitives.WriteUInt16BigEndian(body[4..], (ushort)socket.LocalPort);
        BinaryPrimitives.WriteUInt16BigEndian(body[6..], (ushort)socket.RemotePort);
        if (v6)
        {
            AddressBits.WriteIPv6(socket.LocalAddress, body.Slice(8, 16));
            AddressBits.WriteIPv6(socket.RemoteAddress, body.Slice(24, 16));
        }
        else
        {
            AddressBits.WriteIPv4(socket.LocalAddress, body.Slice(8, 4));
            AddressBits.WriteIPv4(socket.RemoteAddress, body.Slice(24, 4));
        }

        BitConverter.TryWriteBytes(body.Slice(44, 4), (uint)socket.Cookie);
        BitConverter.TryWriteBytes(body.Slice(48, 4), (uint)(socket.Cookie >> 32));
        BitConverter.TryWriteBytes(body.Slice(52, 4), (uint)socket.TimerMilliseconds);
        BitConverter.TryWriteBytes(body.Slice(56, 4), socket.ReceiveQueue);
        BitConverter.TryWriteBytes(body.Slice(60, 4), socket.SendQueue);
        BitConverter.TryWriteBytes(body.Slice(68, 4), socket.Inode);

        // An attribute after the message, as the kernel adds (INET_DIAG_SHUTDOWN): skipped.
        BitConverter.TryWriteBytes(body.Slice(72, 2), (ushort)5);
        BitConverter.TryWriteBytes(body.Slice(74, 2), (ushort)8);
        return message;
    }

    // net/ipv4/inet_diag.c, inet_diag_bc_audit, for the ops the census writes.
    private static bool KernelAudit(ReadOnlySpan<byte> program)
    {
        var len = program.Length;
        var at = 0;
        while (len > 0)
        {
            var code = program[at];
            int yes = program[at + 1];
            int no = BitConverter.ToUInt16(program.Slice(at + 2, 2));
            var minLength = 4;
            switch (code)
            {
                case SockDiagBytecode.SourceCondition or SockDiagBytecode.DestinationCondition:
                    minLength += 8;
                    if (len < minLength)
                    {
                        return false;
                    }

                    var family = program[at + 4];
                    var addressLength = family switch { 0 => 0, SockDiagRequest.AfInet => 4, SockDiagRequest.AfInet6 => 16, _ => -1 };
                    if (addressLength < 0 || len < (minLength += addressLength) || program[at + 5] > 8 * addressLength)
                    {
                        return false;
                    }

                    break;
                case SockDiagBytecode.SourceGreaterOrEqual or SockDiagBytecode.SourceLessOrEqual:
                    if (len < (minLength += 4))
                    {
                        return false;
                    }

                    break;
                default:
                    return false;
            }

            if (no < minLength || no > len + 4 || (no & 3) != 0 || no < len)
            {
                return false; // (no < len would need valid_cc; the census never jumps inside)
            }

            if (yes < minLength || yes > len + 4 || (yes & 3) != 0)
            {
                return false;
            }

            at += yes;
            len -= yes;
        }

        return len == 0;
    }

    // net/ipv4/inet_diag.c, inet_diag_bc_run, for the ops the census writes; the socket as the
    // kernel sees it in a dump of that family (IPv4 addresses mapped in an AF_INET6 socket).
    private static bool KernelRun(ReadOnlySpan<byte> program, byte socketFamily, in SocketRecord socket)
    {
        Span<byte> local = stackalloc byte[16];
        Span<byte> remote = stackalloc byte[16];
        if (socketFamily == SockDiagRequest.AfInet)
        {
            AddressBits.WriteIPv4(socket.LocalAddress, local);
            AddressBits.WriteIPv4(socket.RemoteAddress, remote);
        }
        else
        {
            AddressBits.WriteIPv6(socket.LocalAddress, local);
            AddressBits.WriteIPv6(socket.RemoteAddress, remote);
        }

        var len = program.Length;
        var at = 0;
        while (len > 0)
        {
            var code = program[at];
            int yes = program[at + 1];
            int no = BitConverter.ToUInt16(program.Slice(at + 2, 2));
            var pass = true;
            switch (code)
            {
                case SockDiagBytecode.SourceGreaterOrEqual:
                    pass = socket.LocalPort >= BitConverter.ToUInt16(program.Slice(at + 6, 2));
                    break;
                case SockDiagBytecode.SourceLessOrEqual:
                    pass = socket.LocalPort <= BitConverter.ToUInt16(program.Slice(at + 6, 2));
                    break;
                default:
                    var family = program[at + 4];
                    int prefix = program[at + 5];
                    var port = BitConverter.ToInt32(program.Slice(at + 8, 4));
                    var isSource = code == SockDiagBytecode.SourceCondition;
                    var address = isSource ? local : remote;
                    if (port != -1 && port != (isSource ? socket.LocalPort : socket.RemotePort))
                    {
                        pass = false;
                    }
                    else if (family != 0 && family != socketFamily)
                    {
                        pass = false; // (the kernel's mapped-address branch: the census never asks for it)
                    }
                    else if (prefix != 0)
                    {
                        pass = address[..(prefix / 8)].SequenceEqual(program.Slice(at + 12, prefix / 8));
                    }

                    break;
            }

            at += pass ? yes : no;
            len -= pass ? yes : no;
        }

        return len == 0;
    }

    private static void Report(int tried, string what)
        => TestContext.Current.TestOutputHelper?.WriteLine($"{tried} {what} tried");
}
