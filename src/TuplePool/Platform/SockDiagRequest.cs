using System.Buffers.Binary;

namespace TuplePool.Platform;

/// <summary>
/// Builds <c>SOCK_DIAG_BY_FAMILY</c> requests: an <c>nlmsghdr</c>, an <c>inet_diag_req_v2</c>
/// (linux/inet_diag.h) and, for a filtered dump, the <c>INET_DIAG_REQ_BYTECODE</c> attribute.
/// Header fields are in host byte order, ports and addresses in network order. Pure.
/// </summary>
internal static class SockDiagRequest
{
    public const byte AfInet = 2;
    public const byte AfInet6 = 10;
    public const byte IpProtoTcp = 6;

    /// <summary><c>SOCK_DIAG_BY_FAMILY</c> (linux/sock_diag.h): the request type, and the type of each socket in the reply.</summary>
    public const ushort SockDiagByFamily = 20;

    public const int HeaderLength = 16;   // struct nlmsghdr
    public const int BodyLength = 56;     // struct inet_diag_req_v2
    private const int AttributeHeaderLength = 4;  // struct nlattr
    private const ushort BytecodeAttribute = 1;   // INET_DIAG_REQ_BYTECODE
    private const ushort FlagRequest = 0x01;      // NLM_F_REQUEST
    private const ushort FlagDump = 0x300;        // NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
    private const uint NoCookie = uint.MaxValue;  // INET_DIAG_NOCOOKIE

    /// <summary>Room for the longest request: a dump with the longest filter.</summary>
    public const int MaxLength = HeaderLength + BodyLength + AttributeHeaderLength + SockDiagBytecode.MaxLength;

    /// <summary>The length of one exact (four-tuple) request.</summary>
    public const int ExactLength = HeaderLength + BodyLength;

    /// <summary>
    /// A dump of <paramref name="family"/> TCP sockets in <paramref name="states"/>, filtered in the
    /// kernel by <paramref name="filter"/> (every socket when null). Returns the request's length.
    /// </summary>
    public static int WriteDump(Span<byte> destination, byte family, TcpStateMask states, uint sequence, in CensusFilter filter)
    {
        var body = destination[HeaderLength..];
        WriteBody(body, family, states);

        // The destination port in the request itself lets the kernel skip other ports (and the
        // listening table) before it runs the program.
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(10, 2), (ushort)filter.DestinationPort);
        var program = SockDiagBytecode.Write(destination[(HeaderLength + BodyLength + AttributeHeaderLength)..], family, filter);
        return Finish(destination, sequence, FlagRequest | FlagDump, program);
    }

    /// <summary>A dump of every <paramref name="family"/> TCP socket in <paramref name="states"/>.</summary>
    public static int WriteDumpAll(Span<byte> destination, byte family, TcpStateMask states, uint sequence)
    {
        WriteBody(destination[HeaderLength..], family, states);
        return Finish(destination, sequence, FlagRequest | FlagDump, programLength: -1);
    }

    /// <summary>A dump that the kernel answers with no socket: whether it takes our requests at all.</summary>
    public static int WriteProbe(Span<byte> destination, uint sequence)
    {
        WriteBody(destination[HeaderLength..], AfInet, TcpStateMask.Listen);
        var program = SockDiagBytecode.WriteMatchNothing(destination[(HeaderLength + BodyLength + AttributeHeaderLength)..]);
        return Finish(destination, sequence, FlagRequest | FlagDump, program);
    }

    /// <summary>
    /// One socket by its four-tuple (no dump: the kernel looks it up in its hash). Both addresses
    /// must be of one family; IPv4 is asked as AF_INET, which also finds a dual-stack socket
    /// talking IPv4 (it is hashed by its IPv4 addresses).
    /// </summary>
    public static int WriteExact(Span<byte> destination, UInt128 local, int localPort, UInt128 remote, int remotePort, uint sequence)
    {
        var body = destination[HeaderLength..];
        var family = AddressBits.IsIPv4(local) ? AfInet : AfInet6;
        WriteBody(body, family, TcpStateMask.All);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(8, 2), (ushort)localPort);
        BinaryPrimitives.WriteUInt16BigEndian(body.Slice(10, 2), (ushort)remotePort);
        if (family == AfInet)
        {
            AddressBits.WriteIPv4(local, body.Slice(12, 4));
            AddressBits.WriteIPv4(remote, body.Slice(28, 4));
        }
        else
        {
            AddressBits.WriteIPv6(local, body.Slice(12, 16));
            AddressBits.WriteIPv6(remote, body.Slice(28, 16));
        }

        return Finish(destination, sequence, FlagRequest, programLength: -1);
    }

    // inet_diag_req_v2: family, protocol, ext, pad, states; then inet_diag_sockid: sport, dport,
    // src[16], dst[16], if, cookie[2].
    private static void WriteBody(Span<byte> body, byte family, TcpStateMask states)
    {
        body[..BodyLength].Clear();
        body[0] = family;
        body[1] = IpProtoTcp;
        BitConverter.TryWriteBytes(body.Slice(4, 4), (uint)states);
        BitConverter.TryWriteBytes(body.Slice(48, 4), NoCookie);
        BitConverter.TryWriteBytes(body.Slice(52, 4), NoCookie);
    }

    private static int Finish(Span<byte> destination, uint sequence, ushort flags, int programLength)
    {
        var length = HeaderLength + BodyLength;
        if (programLength >= 0)
        {
            var attribute = destination.Slice(length, AttributeHeaderLength);
            BitConverter.TryWriteBytes(attribute[..2], (ushort)(AttributeHeaderLength + programLength));
            BitConverter.TryWriteBytes(attribute[2..], BytecodeAttribute);
            length += AttributeHeaderLength + programLength;
        }

        // nlmsghdr: length, type, flags, sequence, port id (0: the kernel fills in ours).
        BitConverter.TryWriteBytes(destination[..4], (uint)length);
        BitConverter.TryWriteBytes(destination.Slice(4, 2), SockDiagByFamily);
        BitConverter.TryWriteBytes(destination.Slice(6, 2), flags);
        BitConverter.TryWriteBytes(destination.Slice(8, 4), sequence);
        BitConverter.TryWriteBytes(destination.Slice(12, 4), 0u);
        return length;
    }
}
