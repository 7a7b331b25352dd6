namespace TuplePool.Platform;

/// <summary>
/// The <c>INET_DIAG_REQ_BYTECODE</c> filter program that makes the kernel return only the sockets
/// of one tuple (linux/inet_diag.h; built the way <c>ss</c> builds <c>src</c>/<c>dst</c>/<c>sport</c>
/// conditions, iproute2 misc/ss.c). Pure: tests compare it byte for byte and send it to the kernel.
/// </summary>
/// <remarks>
/// <para>
/// A program is a row of <c>inet_diag_bc_op { u8 code; u8 yes; u16 no; }</c>, each followed by its
/// argument. The kernel (net/ipv4/inet_diag.c, <c>inet_diag_bc_run</c>) runs it per socket: on a
/// match it moves on by <c>yes</c> bytes, else by <c>no</c>; the socket is reported when it lands
/// exactly on the end. Every condition here has <c>yes</c> = its own length and <c>no</c> = the
/// bytes from it to the end plus 4, which lands past the end: a row of ANDs.
/// <c>inet_diag_bc_audit</c> accepts exactly that (<c>no</c> at most "to the end + 4", a multiple
/// of 4, both at least the op's length).
/// </para>
/// <list type="bullet">
/// <item><c>INET_DIAG_BC_S_COND</c> / <c>D_COND</c> + <c>inet_diag_hostcond { u8 family; u8 prefix_len; int port; __be32 addr[]; }</c>:
/// the local / remote address as a full-length prefix; <c>port</c> -1 for any, else the port.</item>
/// <item><c>INET_DIAG_BC_S_GE</c> / <c>S_LE</c> + a second op whose <c>no</c> holds the port: the local port range.</item>
/// </list>
/// <para>
/// A dump of AF_INET6 sockets for an IPv4 tuple (dual-stack sockets talking IPv4) gets AF_INET6
/// conditions on the IPv4-mapped addresses, which such a socket holds.
/// </para>
/// </remarks>
internal static class SockDiagBytecode
{
    public const byte SourceGreaterOrEqual = 2;  // INET_DIAG_BC_S_GE
    public const byte SourceLessOrEqual = 3;     // INET_DIAG_BC_S_LE
    public const byte SourceCondition = 7;       // INET_DIAG_BC_S_COND
    public const byte DestinationCondition = 8;  // INET_DIAG_BC_D_COND

    private const int OpLength = 4;
    private const int HostCondLength = 8;

    /// <summary>The longest program: two IPv6 host conditions and two port comparisons.</summary>
    public const int MaxLength = (2 * (OpLength + HostCondLength + 16)) + (2 * 2 * OpLength);

    /// <summary>Writes the program for <paramref name="filter"/> on sockets of <paramref name="family"/>; returns its length.</summary>
    /// <param name="destination">At least <see cref="MaxLength"/> bytes.</param>
    /// <param name="family"><see cref="SockDiagRequest.AfInet"/> or <see cref="SockDiagRequest.AfInet6"/>: the family of the sockets dumped.</param>
    /// <param name="filter">The tuple; its addresses must fit <paramref name="family"/> (IPv4 fits both).</param>
    public static int Write(Span<byte> destination, byte family, in CensusFilter filter)
    {
        var addressLength = family == SockDiagRequest.AfInet ? 4 : 16;
        var hostCond = OpLength + HostCondLength + addressLength;
        var total = hostCond + (filter.HasSource ? hostCond : 0) + (filter.LocalPorts is null ? 0 : 4 * OpLength);
        var at = 0;
        if (filter.HasSource)
        {
            at += WriteHostCond(destination[at..], SourceCondition, family, filter.Source, -1, total - at);
        }

        at += WriteHostCond(destination[at..], DestinationCondition, family, filter.Destination, filter.DestinationPort, total - at);
        if (filter.LocalPorts is { } ports)
        {
            at += WritePortComparison(destination[at..], SourceGreaterOrEqual, ports.First, total - at);
            at += WritePortComparison(destination[at..], SourceLessOrEqual, ports.Last, total - at);
        }

        return at;
    }

    /// <summary>
    /// A program no socket passes (a destination port of 1 and no address condition): what the
    /// census sends to find out whether the kernel takes its requests at all.
    /// </summary>
    public static int WriteMatchNothing(Span<byte> destination)
    {
        const int Length = OpLength + HostCondLength;
        WriteOp(destination, DestinationCondition, Length, Length);
        destination[4] = 0; // AF_UNSPEC: no address, prefix 0
        destination[5] = 0;
        destination[6] = 0;
        destination[7] = 0;
        BitConverter.TryWriteBytes(destination.Slice(8, 4), 1);
        return Length;
    }

    private static int WriteHostCond(Span<byte> destination, byte code, byte family, UInt128 address, int port, int toEnd)
    {
        var addressLength = family == SockDiagRequest.AfInet ? 4 : 16;
        var length = OpLength + HostCondLength + addressLength;
        WriteOp(destination, code, length, toEnd);
        destination[4] = family;
        destination[5] = (byte)(addressLength * 8);
        destination[6] = 0;
        destination[7] = 0;
        BitConverter.TryWriteBytes(destination.Slice(8, 4), port); // host order, as the kernel compares it
        if (addressLength == 4)
        {
            AddressBits.WriteIPv4(address, destination.Slice(12, 4));
        }
        else
        {
            AddressBits.WriteIPv6(address, destination.Slice(12, 16));
        }

        return length;
    }

    private static int WritePortComparison(Span<byte> destination, byte code, int port, int toEnd)
    {
        WriteOp(destination, code, 2 * OpLength, toEnd);
        destination[4] = 0;
        destination[5] = 0;
        BitConverter.TryWriteBytes(destination.Slice(6, 2), (ushort)port); // the second op's "no" field, host order
        return 2 * OpLength;
    }

    // yes = this op's length (go on), no = past the end (reject).
    private static void WriteOp(Span<byte> destination, byte code, int length, int toEnd)
    {
        destination[0] = code;
        destination[1] = (byte)length;
        BitConverter.TryWriteBytes(destination.Slice(2, 2), (ushort)(toEnd + 4)); // host order
    }
}
