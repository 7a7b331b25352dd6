using System.Buffers.Binary;
using System.Globalization;

namespace TuplePool.Platform;

/// <summary>
/// Parses the text of <c>/proc/net/tcp</c> and <c>/proc/net/tcp6</c>. Pure: tests feed it captured text.
/// </summary>
/// <remarks>
/// <para>The kernel prints one socket per line after a header line:</para>
/// <code>
///   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ...
///    0: 0100007F:1F90 0200007F:8CA0 01 00000000:00000000 00:00000000 00000000     0        0 12345 ...
/// </code>
/// <para>
/// An address is printed with <c>%08X</c> per 32-bit word of the in-memory (network order) address
/// read as a host-order integer: on a little-endian machine 127.0.0.1 (bytes 7F 00 00 01) prints as
/// <c>0100007F</c>. tcp6 prints the four words of <c>s6_addr32</c> the same way. Writing each word
/// back in host order gives the original bytes. Ports are converted with <c>ntohs</c> first, so
/// <c>1F90</c> is port 8080. The state is <c>%02X</c> of the numbers in <see cref="TcpState"/>.
/// Then <c>%08X:%08X</c> the send and receive queues, <c>%02X:%08lX</c> the timer
/// (<see cref="KernelTimer"/>) and the clock ticks (<c>USER_HZ</c>, 100 a second) until it fires,
/// and, in the tenth field, the inode (0 for a socket no descriptor holds).
/// </para>
/// <para>
/// A line that does not have this shape is skipped and counted, never thrown on: the census runs
/// on the error path and must not turn one odd line into a second failure.
/// </para>
/// <para>
/// The parser reports every line; dropping the lines the kernel repeats while sockets change is
/// the reader's job (<see cref="ProcNetTcpCensus"/>, <see cref="SocketIdentity"/>).
/// </para>
/// </remarks>
internal static class KernelCensusParser
{
    private const int IPv4HexLength = 8;
    private const int IPv6HexLength = 32;
    private const int PortHexLength = 4;
    private const int QueueHexLength = 8;
    private const int TimerHexLength = 2;

    // /proc prints timers in clock_t ticks: USER_HZ, which is 100 on every architecture .NET runs on.
    private const int MillisecondsPerTick = 10;

    // sl, local, remote, st, tx:rx, tr:tm, retrnsmt, uid, timeout, inode: every kind of line
    // (listening, established, TIME_WAIT, request) has at least these.
    private const int MinimumFields = 10;

    /// <summary>Parses one file's text, with addresses decoded in the given byte order; a socket printed twice counts once.</summary>
    public static KernelCensusSnapshot Parse(string text, bool isLittleEndian)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sink = new CollectingSink(TcpStateMask.All);
        var malformed = ParseInto(text, isLittleEndian, ref sink);
        var sockets = new List<KernelSocket>(sink.Table.Count);
        sink.Table.CopyTo(sockets);
        return KernelCensusSnapshot.FromTable(new KernelSocketTable(sockets, CensusBackend.ProcNetTcp, malformed, sink.Table.Duplicates, [], null));
    }

    /// <summary>
    /// Hands every socket line of <paramref name="text"/> to <paramref name="sink"/>; returns how
    /// many lines were malformed. Header lines and blank lines are skipped without counting.
    /// </summary>
    public static int ParseInto<TSink>(ReadOnlySpan<char> text, bool isLittleEndian, ref TSink sink)
        where TSink : struct, ISocketRecordSink
    {
        var malformed = 0;
        foreach (var line in text.EnumerateLines())
        {
            if (line.IsWhiteSpace() || IsHeader(line))
            {
                continue;
            }

            if (TryParseRecord(line, isLittleEndian, out var record))
            {
                sink.Add(record);
            }
            else
            {
                malformed++;
            }
        }

        return malformed;
    }

    /// <summary>Parses one socket line; false when it does not have the kernel's shape.</summary>
    public static bool TryParseLine(ReadOnlySpan<char> line, bool isLittleEndian, out KernelCensusEntry entry)
    {
        if (!TryParseRecord(line, isLittleEndian, out var record))
        {
            entry = default;
            return false;
        }

        entry = new KernelCensusEntry(AddressBits.ToIPAddress(record.LocalAddress), record.LocalPort, AddressBits.ToIPAddress(record.RemoteAddress), record.RemotePort, record.State);
        return true;
    }

    /// <summary>Parses one socket line with its queues, timer and inode; false when it does not have the kernel's shape.</summary>
    public static bool TryParseRecord(ReadOnlySpan<char> line, bool isLittleEndian, out SocketRecord record)
    {
        record = default;
        var rest = line;
        var slot = NextField(ref rest);
        var local = NextField(ref rest);
        var remote = NextField(ref rest);
        var state = NextField(ref rest);
        var queues = NextField(ref rest);
        var timer = NextField(ref rest);
        _ = NextField(ref rest); // retrnsmt
        _ = NextField(ref rest); // uid
        _ = NextField(ref rest); // timeout
        var inode = NextField(ref rest);

        if (inode.IsEmpty // fewer than MinimumFields
            || !IsSlot(slot)
            || !TryParseEndPoint(local, isLittleEndian, out var localAddress, out var localPort)
            || !TryParseEndPoint(remote, isLittleEndian, out var remoteAddress, out var remotePort)
            || local.Length != remote.Length
            || state.Length != 2
            || !int.TryParse(state, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var stateNumber)
            || stateNumber is < (int)TcpState.Established or > (int)TcpState.NewSynRecv
            || !TryParsePair(queues, QueueHexLength, QueueHexLength, out var sendQueue, out var receiveQueue)
            || !TryParsePair(timer, TimerHexLength, 16, out var timerCode, out var ticks)
            || timerCode > (ulong)KernelTimer.ZeroWindowProbe
            || !uint.TryParse(inode, NumberStyles.None, CultureInfo.InvariantCulture, out var inodeNumber))
        {
            return false;
        }

        var timerMilliseconds = timerCode == 0 ? 0 : (long)Math.Min(ticks, long.MaxValue / MillisecondsPerTick) * MillisecondsPerTick;
        record = new SocketRecord(
            localAddress,
            localPort,
            remoteAddress,
            remotePort,
            (TcpState)stateNumber,
            (KernelTimer)timerCode,
            timerMilliseconds,
            (uint)receiveQueue,
            (uint)sendQueue,
            inodeNumber,
            cookie: 0);
        return true;
    }

    private static bool IsHeader(ReadOnlySpan<char> line)
    {
        var rest = line;
        return NextField(ref rest).SequenceEqual("sl");
    }

    // "12:" — the kernel's slot number.
    private static bool IsSlot(ReadOnlySpan<char> field)
        => field.Length >= 2 && field[^1] == ':' && !field[..^1].ContainsAnyExceptInRange('0', '9');

    // "0100007F:1F90" or "00000000000000000000000001000000:1F90".
    private static bool TryParseEndPoint(ReadOnlySpan<char> field, bool isLittleEndian, out UInt128 address, out int port)
    {
        address = default;
        port = 0;
        var colon = field.IndexOf(':');
        if (colon is not (IPv4HexLength or IPv6HexLength)
            || field.Length - colon - 1 != PortHexLength
            || !TryParseHex(field[(colon + 1)..], out var portValue))
        {
            return false;
        }

        Span<byte> bytes = stackalloc byte[16];
        var hex = field[..colon];
        for (var word = 0; word * 8 < hex.Length; word++)
        {
            if (!TryParseHex(hex.Slice(word * 8, 8), out var value))
            {
                return false;
            }

            // The kernel printed the word as the host read it from memory; write it back the same way.
            var target = bytes.Slice(word * 4, 4);
            if (isLittleEndian)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(target, value);
            }
            else
            {
                BinaryPrimitives.WriteUInt32BigEndian(target, value);
            }
        }

        // ::ffff:a.b.c.d — a dual-stack socket talking IPv4 — comes out as IPv4, as the kernel's port search treats it.
        address = hex.Length == IPv4HexLength ? AddressBits.FromIPv4(bytes[..4]) : AddressBits.FromIPv6(bytes);
        port = (int)portValue;
        return true;
    }

    // "00000000:00000000" (the queues) or "03:00001770" (the timer and its ticks).
    private static bool TryParsePair(ReadOnlySpan<char> field, int firstLength, int secondMaxLength, out ulong first, out ulong second)
    {
        first = 0;
        second = 0;
        var colon = field.IndexOf(':');
        return colon == firstLength
            && field.Length - colon - 1 is var secondLength && secondLength >= 1 && secondLength <= secondMaxLength
            && ulong.TryParse(field[..colon], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out first)
            && ulong.TryParse(field[(colon + 1)..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out second);
    }

    // Exactly the digits given: uint.TryParse would also take a leading sign or whitespace with
    // other styles, but AllowHexSpecifier alone takes hex digits only.
    private static bool TryParseHex(ReadOnlySpan<char> hex, out uint value)
        => uint.TryParse(hex, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);

    private static ReadOnlySpan<char> NextField(ref ReadOnlySpan<char> rest)
    {
        rest = rest.TrimStart(' ');
        var end = rest.IndexOf(' ');
        var field = end < 0 ? rest : rest[..end];
        rest = end < 0 ? default : rest[end..];
        return field;
    }
}
