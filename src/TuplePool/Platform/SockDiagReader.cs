using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>What one netlink message of a sock_diag reply is.</summary>
internal enum SockDiagMessageKind
{
    /// <summary>No bytes left.</summary>
    End = 0,

    /// <summary>An <c>inet_diag_msg</c>: one socket.</summary>
    Socket,

    /// <summary><c>NLMSG_DONE</c>: the dump is complete (or, with an error, ended by it).</summary>
    Done,

    /// <summary><c>NLMSG_ERROR</c> with an error (a refused request; for an exact lookup, <c>ENOENT</c>: no such socket).</summary>
    Error,

    /// <summary><c>NLMSG_ERROR</c> 0: an acknowledgement.</summary>
    Ack,

    /// <summary>A message with a bad length, an unknown type, or a socket message that does not have the kernel's shape.</summary>
    Malformed,
}

/// <summary>
/// Reads the netlink messages of sock_diag replies (linux/netlink.h, linux/inet_diag.h) out of
/// received bytes: one datagram, or several concatenated (each message carries its length).
/// Pure and bounded: it never reads outside the span and never throws on content, so the census
/// can hand it whatever the kernel (or a test) wrote. Attributes after an <c>inet_diag_msg</c>
/// are skipped: the census needs none of them.
/// </summary>
internal ref struct SockDiagReader
{
    /// <summary>The size of <c>struct inet_diag_msg</c>.</summary>
    public const int InetDiagMessageLength = 72;

    private const ushort NlmsgNoop = 1;
    private const ushort NlmsgError = 2;
    private const ushort NlmsgDone = 3;
    private const ushort NlmsgOverrun = 4;
    private const int HeaderLength = SockDiagRequest.HeaderLength;

    private ReadOnlySpan<byte> _rest;

    public SockDiagReader(ReadOnlySpan<byte> data)
    {
        _rest = data;
    }

    /// <summary>
    /// Reads the next message. <paramref name="sequence"/> is its <c>nlmsg_seq</c> (the request it
    /// answers); <paramref name="errno"/> a positive error number for <see cref="SockDiagMessageKind.Error"/>
    /// and <see cref="SockDiagMessageKind.Done"/>; <paramref name="socket"/> is set for
    /// <see cref="SockDiagMessageKind.Socket"/>. After a message whose length cannot be trusted
    /// the rest is dropped and <see cref="SockDiagMessageKind.End"/> follows.
    /// </summary>
    public SockDiagMessageKind Read(out uint sequence, out int errno, out SocketRecord socket)
    {
        sequence = 0;
        errno = 0;
        socket = default;
        while (true)
        {
            if (_rest.IsEmpty)
            {
                return SockDiagMessageKind.End;
            }

            if (_rest.Length < HeaderLength)
            {
                _rest = default;
                return SockDiagMessageKind.Malformed;
            }

            var length = MemoryMarshal.Read<uint>(_rest);
            var type = MemoryMarshal.Read<ushort>(_rest[4..]);
            if (length < HeaderLength || length > (uint)_rest.Length)
            {
                _rest = default;
                return SockDiagMessageKind.Malformed;
            }

            sequence = MemoryMarshal.Read<uint>(_rest[8..]);
            var payload = _rest[HeaderLength..(int)length];

            // NLMSG_ALIGN: the next message starts on a 4-byte boundary (the last may end unpadded).
            var next = (int)Math.Min(((long)length + 3) & ~3L, _rest.Length);
            _rest = _rest[next..];
            switch (type)
            {
                case NlmsgNoop:
                    continue;
                case NlmsgDone:
                    // The payload is the dump's own error, 0 when it ran to the end (older kernels may send none).
                    errno = payload.Length >= 4 ? -MemoryMarshal.Read<int>(payload) : 0;
                    return errno >= 0 ? SockDiagMessageKind.Done : SockDiagMessageKind.Malformed;
                case NlmsgError:
                    if (payload.Length < 4)
                    {
                        return SockDiagMessageKind.Malformed;
                    }

                    errno = -MemoryMarshal.Read<int>(payload);
                    return errno == 0 ? SockDiagMessageKind.Ack : errno > 0 ? SockDiagMessageKind.Error : SockDiagMessageKind.Malformed;
                case NlmsgOverrun:
                    errno = Errnos.ENOBUFS;
                    return SockDiagMessageKind.Error;
                case SockDiagRequest.SockDiagByFamily:
                    return TryReadSocket(payload, out socket) ? SockDiagMessageKind.Socket : SockDiagMessageKind.Malformed;
                default:
                    return SockDiagMessageKind.Malformed;
            }
        }
    }

    // inet_diag_msg: family, state, timer, retrans; inet_diag_sockid (sport, dport, src[16],
    // dst[16], if, cookie[2]); expires, rqueue, wqueue, uid, inode.
    private static bool TryReadSocket(ReadOnlySpan<byte> message, out SocketRecord socket)
    {
        socket = default;
        if (message.Length < InetDiagMessageLength)
        {
            return false;
        }

        var family = message[0];
        var state = message[1];
        var timer = message[2];
        if (family is not (SockDiagRequest.AfInet or SockDiagRequest.AfInet6)
            || state is < (byte)TcpState.Established or > (byte)TcpState.NewSynRecv
            || timer > (byte)KernelTimer.ZeroWindowProbe)
        {
            return false;
        }

        var localPort = (message[4] << 8) | message[5];
        var remotePort = (message[6] << 8) | message[7];
        var local = family == SockDiagRequest.AfInet ? AddressBits.FromIPv4(message.Slice(8, 4)) : AddressBits.FromIPv6(message.Slice(8, 16));
        var remote = family == SockDiagRequest.AfInet ? AddressBits.FromIPv4(message.Slice(24, 4)) : AddressBits.FromIPv6(message.Slice(24, 16));
        var cookie = MemoryMarshal.Read<uint>(message[44..]) | ((ulong)MemoryMarshal.Read<uint>(message[48..]) << 32);
        var expires = MemoryMarshal.Read<uint>(message[52..]);

        // Kernels before jiffies_delta_to_msecs() could report a timer already due as a wrapped
        // negative number: read that as "due now".
        var timerMilliseconds = timer == 0 || expires > int.MaxValue ? 0 : (long)expires;
        socket = new SocketRecord(
            local,
            localPort,
            remote,
            remotePort,
            (TcpState)state,
            (KernelTimer)timer,
            timerMilliseconds,
            MemoryMarshal.Read<uint>(message[56..]),
            MemoryMarshal.Read<uint>(message[60..]),
            MemoryMarshal.Read<uint>(message[68..]),
            cookie);
        return true;
    }
}
