using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Text;
using CsCheck;
using TuplePool.Platform;

namespace TuplePool.Tests.Fuzz;

/// <summary>
/// The <c>/proc/net/tcp{,6}</c> parser against generated and mutated text. Its contract: it never
/// throws on content (only on null text), every socket line is either counted or counted
/// as malformed, and a line in the kernel's shape comes back as the socket it describes.
/// </summary>
public sealed class KernelCensusParserFuzzTests
{
    /// <summary>Inputs per property; each property reports how many it tried.</summary>
    internal const int Iterations = 20_000;

    private static readonly string[] Captured =
    [
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", "proc-net-tcp.txt")),
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Platform", "TestData", "proc-net-tcp6.txt")),
    ];

    private static readonly Gen<TcpState> State = Gen.Int[(int)TcpState.Established, (int)TcpState.NewSynRecv].Select(s => (TcpState)s);

    private static readonly Gen<IPAddress> IPv4 = Gen.UInt.Select(v => new IPAddress(BitConverter.GetBytes(v)));

    private static readonly Gen<IPAddress> IPv6 = Gen.Frequency(
        (3, Gen.Byte.Array[16].Select(b => new IPAddress(b))),
        (1, IPv4.Select(a => a.MapToIPv6())), // a dual-stack socket talking IPv4
        (1, Gen.Const(IPAddress.IPv6Loopback)));

    // One socket as the kernel prints it, with the entry it must parse back to.
    private static readonly Gen<(string Line, KernelCensusEntry Expected)> KernelLine =
        Gen.Bool.SelectMany(v6 => Gen.Select(
            v6 ? IPv6 : IPv4, Gen.Int[0, 65535], v6 ? IPv6 : IPv4, Gen.Int[0, 65535], State, Gen.Int[0, 9999], Gen.UInt,
            (local, localPort, remote, remotePort, state, slot, inode) =>
            {
                var line = string.Create(CultureInfo.InvariantCulture, $"{slot,4}: {Hex(local)}:{localPort:X4} {Hex(remote)}:{remotePort:X4} {(int)state:X2} 00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0000000000000000 100 0 0 10 0");
                var expected = new KernelCensusEntry(Normalize(local), localPort, Normalize(remote), remotePort, state);
                return (line, expected);
            }));

    private static readonly Gen<char> Noise = Gen.Frequency(
        (6, Gen.Char["0123456789ABCDEFabcdef"]),
        (3, Gen.Char[" :\n\r\t"]),
        (1, Gen.Char['\0', '\u007F']),
        (1, Gen.Char['\u0080', '\uFFFF']));

    // Up to eight edits of one of the kernel's own files or of generated lines.
    private static readonly Gen<string> Mutated =
        Gen.Select(
            Gen.OneOf(Gen.OneOf(Captured), KernelLine.Array[1, 12].Select(ls => "  sl  local_address rem_address\n" + string.Join('\n', ls.Select(l => l.Line)))),
            Gen.Select(Gen.Int[0, 4], Gen.Double[0, 1], Gen.Int[1, 40], Noise).Array[1, 8],
            static (string text, (int Kind, double Where, int Length, char C)[] edits) =>
            {
                var builder = new StringBuilder(text);
                foreach (var (kind, where, length, c) in edits)
                {
                    var at = (int)(where * builder.Length);
                    var count = Math.Min(length, builder.Length - at);
                    switch (kind)
                    {
                        case 0: if (at < builder.Length) { builder[at] = c; } break;          // replace
                        case 1: builder.Insert(at, c); break;                                 // insert
                        case 2: builder.Remove(at, count); break;                             // delete a run
                        case 3: builder.Length = at; break;                                   // truncate (a read cut short)
                        default: builder.Insert(at, builder.ToString(at, count)); break;      // repeat a run
                    }
                }

                return builder.ToString();
            });

    [Fact]
    public void TryParseLine_LinesInTheKernelsShape_ComeBackAsTheSocketTheyDescribe()
    {
        Assert.SkipUnless(BitConverter.IsLittleEndian, "Lines are generated as a little-endian kernel prints them.");
        var tried = 0;
        KernelLine.Sample(sample =>
        {
            Interlocked.Increment(ref tried);
            Assert.True(KernelCensusParser.TryParseLine(sample.Line, isLittleEndian: true, out var entry), sample.Line);
            Assert.Equal(sample.Expected, entry);
        }, iter: Iterations);

        Report(tried, "generated kernel lines");
    }

    [Fact]
    public void ParseInto_MutatedText_NeverThrowsAndEveryLineIsCountedOrMalformed()
    {
        var tried = 0;
        var malformedSeen = 0L;
        Mutated.Sample(text =>
        {
            Interlocked.Increment(ref tried);
            foreach (var littleEndian in (ReadOnlySpan<bool>)[true, false])
            {
                var sink = new CollectingSink(TcpStateMask.All);
                var malformed = KernelCensusParser.ParseInto(text, littleEndian, ref sink);
                var (socketLines, parsable) = Classify(text, littleEndian);
                var sockets = new List<KernelSocket>();
                sink.Table.CopyTo(sockets);

                Assert.Equal(socketLines - parsable, malformed);
                Assert.Equal(parsable, sockets.Count + sink.Table.Duplicates); // every parsable line kept, or dropped as a repeat
                Assert.All(sockets, k => Assert.InRange(k.RemotePort, 0, 65535));
                Assert.All(sockets, k => Assert.InRange((int)k.State, (int)TcpState.Established, (int)TcpState.NewSynRecv));
                Interlocked.Add(ref malformedSeen, malformed);
            }
        }, iter: Iterations);

        Assert.True(malformedSeen > 0, "the mutations never produced a malformed line");
        Report(tried, $"mutated files ({malformedSeen} malformed lines counted)");
    }

    [Fact]
    public void Parse_ArbitraryText_NeverThrows()
    {
        var tried = 0;
        Gen.String[Noise, 0, 400].Sample(text =>
        {
            Interlocked.Increment(ref tried);
            var snapshot = KernelCensusParser.Parse(text, BitConverter.IsLittleEndian);
            Assert.InRange(snapshot.MalformedLines, 0, text.Length + 1);
        }, iter: Iterations);

        Report(tried, "arbitrary strings");
    }

    [Fact]
    public void Parse_NullText_IsTheOnlyThrow()
        => Assert.Throws<ArgumentNullException>(() => KernelCensusParser.Parse(null!, true));

    // The test's own reading of the contract: a socket line is any line that is neither blank nor
    // the header; it is parsable when TryParseLine accepts it.
    private static (int SocketLines, int Parsable) Classify(string text, bool littleEndian)
    {
        var socketLines = 0;
        var parsable = 0;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            var trimmed = line.TrimStart(' ');
            var end = trimmed.IndexOf(' ');
            if (line.IsWhiteSpace() || (end < 0 ? trimmed : trimmed[..end]).SequenceEqual("sl"))
            {
                continue;
            }

            socketLines++;
            if (KernelCensusParser.TryParseLine(line, littleEndian, out _))
            {
                parsable++;
            }
        }

        return (socketLines, parsable);
    }

    // What the kernel prints: each 32-bit word of the network-order address as the host reads it.
    private static string Hex(IPAddress address)
    {
        var bytes = address.GetAddressBytes();
        var hex = new StringBuilder();
        for (var word = 0; word < bytes.Length; word += 4)
        {
            hex.Append(BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(word, 4)).ToString("X8", CultureInfo.InvariantCulture));
        }

        return hex.ToString();
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static void Report(int tried, string what)
        => TestContext.Current.TestOutputHelper?.WriteLine($"{tried} {what} tried");
}
