using System.Buffers;

namespace TuplePool.Platform;

/// <summary>
/// The kernel's TCP table through <c>NETLINK_SOCK_DIAG</c>, as <c>ss</c> reads it: a
/// <c>SOCK_DIAG_BY_FAMILY</c> dump per address family with the tuple and the states filtered in
/// the kernel (<see cref="SockDiagBytecode"/>), or exact lookups by four-tuple. Linux only.
/// </summary>
/// <remarks>
/// <para>
/// Each query opens its own netlink socket and closes it (three syscalls besides the exchange),
/// so nothing is held between queries and concurrent queries share nothing. The receive buffer
/// is rented from <see cref="ArrayPool{T}.Shared"/>; sockets are counted or collected as
/// <see cref="SocketRecord"/> values, so a count allocates nothing per socket.
/// </para>
/// <para>
/// An IPv4 tuple takes two dumps: AF_INET sockets, and AF_INET6 ones for dual-stack sockets
/// talking IPv4 (the kernel's family filter is exact). A dump may span many datagrams (the kernel
/// fills up to 32 KiB each, <c>NLM_F_MULTI</c>, until <c>NLMSG_DONE</c>). Where it resumes
/// between two of them it walks the same hash bucket again, so a socket that moved meanwhile can
/// be reported twice: repeats are dropped by <see cref="SocketIdentity"/>.
/// </para>
/// <para>
/// A datagram larger than the buffer (<c>MSG_TRUNC</c>: its rest is lost) makes the query run
/// again with a buffer that fits. <c>EPERM</c>, <c>EACCES</c>, <c>EPROTONOSUPPORT</c> and the
/// like come back as <see cref="CensusStatus.Refused"/> (see <see cref="Errnos.IsRefusal"/>).
/// </para>
/// </remarks>
internal sealed class SockDiagCensus : ICensusBackend
{
    /// <summary>The census of this machine.</summary>
    public static readonly SockDiagCensus Default = new();

    /// <summary>The kernel's dump datagrams are at most 32 KiB; twice that never truncates.</summary>
    internal const int DefaultReceiveBufferSize = 64 * 1024;

    // Exact lookups per datagram: their replies (about 100 bytes of message in a 1 KiB skb each)
    // must fit the socket's receive queue (rmem_default, 208 KiB), or the kernel drops them.
    internal const int LookupBatch = 64;

    private const int MaxAttempts = 4;

    private int _receiveBufferSize;
    private int _truncatedReplies;
    private int _rejected;

    /// <param name="receiveBufferSize">The first receive buffer's size; tests make it small to see it grow.</param>
    internal SockDiagCensus(int receiveBufferSize = DefaultReceiveBufferSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(receiveBufferSize, SockDiagRequest.HeaderLength);
        _receiveBufferSize = receiveBufferSize;
    }

    public CensusBackend Kind => CensusBackend.SockDiag;

    /// <summary>Datagrams that did not fit the receive buffer (each made its query run again with a larger one).</summary>
    internal int TruncatedReplies => Volatile.Read(ref _truncatedReplies);

    /// <summary>
    /// Sockets the kernel returned that the query's own filter does not match: 0 when the kernel
    /// applied the filter. The count leaves them out either way.
    /// </summary>
    internal int RejectedSockets => Volatile.Read(ref _rejected);

    /// <summary>The receive buffer's size now.</summary>
    internal int ReceiveBufferSize => Volatile.Read(ref _receiveBufferSize);

    public CensusResult Probe()
    {
        var sink = new CountingSink(new CensusFilter(null, new System.Net.IPEndPoint(System.Net.IPAddress.Any, 1), TcpStateMask.Listen, null));
        return Run(DumpPlan.Probe, default, TcpStateMask.Listen, ref sink);
    }

    public CensusResult Count(in CensusFilter filter, out int count)
    {
        count = 0;
        if (filter.MatchesNothing)
        {
            return CensusResult.Ok;
        }

        var sink = new CountingSink(filter);
        var result = Run(filter.IsIPv4 ? DumpPlan.FilteredBothFamilies : DumpPlan.FilteredIPv6, filter, filter.States, ref sink);
        Interlocked.Add(ref _rejected, sink.Rejected);
        if (result.IsOk)
        {
            count = sink.Count;
        }

        return result;
    }

    public CensusResult Query(in CensusFilter filter, List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (filter.MatchesNothing)
        {
            return CensusResult.Ok;
        }

        var sink = new CollectingSink(filter);
        var result = Run(filter.IsIPv4 ? DumpPlan.FilteredBothFamilies : DumpPlan.FilteredIPv6, filter, filter.States, ref sink);
        Interlocked.Add(ref _rejected, sink.Rejected);
        if (result.IsOk)
        {
            sink.Table.CopyTo(results);
        }

        return result;
    }

    public CensusResult ReadAll(TcpStateMask states, out KernelSocketTable table)
    {
        var sink = new CollectingSink(states);
        var result = Run(DumpPlan.AllBothFamilies, default, states, ref sink);
        var sockets = new List<KernelSocket>();
        if (result.IsOk)
        {
            sink.Table.CopyTo(sockets);
        }

        table = new KernelSocketTable(sockets, result.IsOk ? CensusBackend.SockDiag : CensusBackend.Unavailable, 0, sink.Table.Duplicates, [], null);
        return result;
    }

    public CensusResult Lookup(ReadOnlySpan<TcpFourTuple> connections, List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        if (connections.IsEmpty)
        {
            return CensusResult.Ok;
        }

        if (!OperatingSystem.IsLinux())
        {
            return NotLinux();
        }

        var table = new SocketTableBuilder();
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        var requests = ArrayPool<byte>.Shared.Rent(LookupBatch * SockDiagRequest.ExactLength);
        try
        {
            for (var start = 0; start < connections.Length; start += LookupBatch)
            {
                var batch = connections.Slice(start, Math.Min(LookupBatch, connections.Length - start));
                var result = LookupBatchOnce(batch, requests, ref buffer, table);
                if (!result.IsOk)
                {
                    return result;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(requests);
            ArrayPool<byte>.Shared.Return(buffer);
        }

        table.CopyTo(results);
        return CensusResult.Ok;
    }

    private static CensusResult NotLinux() => CensusResult.Refused(Errnos.EAFNOSUPPORT, "NETLINK_SOCK_DIAG is Linux only");

    private static CensusResult Classify(int errno, string what)
        => Errnos.IsRefusal(errno) ? CensusResult.Refused(errno, what) : CensusResult.Failed(errno, what);

    private CensusResult Run<TSink>(DumpPlan plan, in CensusFilter filter, TcpStateMask states, ref TSink sink)
        where TSink : struct, ISocketRecordSink
    {
        if (!OperatingSystem.IsLinux())
        {
            return NotLinux();
        }

        Span<byte> request = stackalloc byte[SockDiagRequest.MaxLength];
        for (var attempt = 1; ; attempt++)
        {
            sink.Reset();
            if (!NetlinkSocket.TryOpen(out var socket, out var errno))
            {
                return Classify(errno, "socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
            }

            var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
            var truncatedTo = 0;
            try
            {
                var result = CensusResult.Ok;
                for (var step = 0; step < plan.Families.Length && result.IsOk && truncatedTo == 0; step++)
                {
                    var family = plan.Families[step];
                    var sequence = (uint)step + 1;
                    var length = plan.Kind switch
                    {
                        DumpKind.Probe => SockDiagRequest.WriteProbe(request, sequence),
                        DumpKind.Filtered => SockDiagRequest.WriteDump(request, family, states, sequence, filter),
                        _ => SockDiagRequest.WriteDumpAll(request, family, states, sequence),
                    };
                    result = DumpOnce(socket, request[..length], sequence, buffer, ref sink, out truncatedTo);
                }

                if (truncatedTo == 0 || attempt == MaxAttempts)
                {
                    return truncatedTo == 0 ? result : CensusResult.Failed(0, "sock_diag reply datagrams kept outgrowing the receive buffer");
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
                socket.Dispose();
            }

            Grow(truncatedTo);
        }
    }

    // One dump: the request, then datagrams until NLMSG_DONE answers it.
    private static CensusResult DumpOnce<TSink>(NetlinkSocket socket, ReadOnlySpan<byte> request, uint sequence, byte[] buffer, ref TSink sink, out int truncatedTo)
        where TSink : struct, ISocketRecordSink
    {
        truncatedTo = 0;
        var errno = socket.Send(request);
        if (errno != 0)
        {
            return Classify(errno, "send(SOCK_DIAG_BY_FAMILY)");
        }

        while (true)
        {
            var received = socket.Receive(buffer, out errno);
            if (received < 0)
            {
                return errno == Errnos.EAGAIN
                    ? CensusResult.Failed(0, "the sock_diag dump ended without NLMSG_DONE")
                    : Classify(errno, "recv(NETLINK_SOCK_DIAG)");
            }

            if (received > buffer.Length)
            {
                truncatedTo = received;
                return CensusResult.Ok;
            }

            var reader = new SockDiagReader(buffer.AsSpan(0, received));
            while (true)
            {
                var kind = reader.Read(out var replyTo, out var error, out var record);
                if (kind == SockDiagMessageKind.End)
                {
                    break;
                }

                if (replyTo != sequence && kind != SockDiagMessageKind.Malformed)
                {
                    continue; // not ours (the socket is new, so nothing else should arrive)
                }

                switch (kind)
                {
                    case SockDiagMessageKind.Socket:
                        sink.Add(record);
                        break;
                    case SockDiagMessageKind.Done:
                        return error == 0 ? CensusResult.Ok : Classify(error, "the sock_diag dump");
                    case SockDiagMessageKind.Error:
                        return Classify(error, "SOCK_DIAG_BY_FAMILY");
                    case SockDiagMessageKind.Malformed:
                        return CensusResult.Failed(0, "a sock_diag reply message did not have the kernel's shape");
                    default:
                        break; // an acknowledgement: nothing to read
                }
            }
        }
    }

    // One datagram of exact requests; every request is answered by one message, the socket or
    // an error (ENOENT: there is no such socket).
    private CensusResult LookupBatchOnce(ReadOnlySpan<TcpFourTuple> batch, byte[] requests, ref byte[] buffer, SocketTableBuilder table)
    {
        Span<bool> answered = stackalloc bool[LookupBatch];
        var wanted = new SocketIdentity[batch.Length];
        for (var attempt = 1; ; attempt++)
        {
            answered.Clear();
            var length = 0;
            var expected = 0;
            for (var i = 0; i < batch.Length; i++)
            {
                var tuple = batch[i];
                if (!AddressBits.TryFrom(tuple.LocalAddress, out var local) || !AddressBits.TryFrom(tuple.RemoteAddress, out var remote)
                    || AddressBits.IsIPv4(local) != AddressBits.IsIPv4(remote))
                {
                    answered[i] = true; // no socket can have it
                    continue;
                }

                wanted[i] = SocketIdentity.Of(new SocketRecord(local, tuple.LocalPort, remote, tuple.RemotePort, TcpState.Established, KernelTimer.None, 0, 0, 0, 0, 0));
                length += SockDiagRequest.WriteExact(requests.AsSpan(length), local, tuple.LocalPort, remote, tuple.RemotePort, (uint)i + 1);
                expected++;
            }

            if (expected == 0)
            {
                return CensusResult.Ok;
            }

            if (!NetlinkSocket.TryOpen(out var socket, out var errno))
            {
                return Classify(errno, "socket(AF_NETLINK, NETLINK_SOCK_DIAG)");
            }

            var truncatedTo = 0;
            using (socket)
            {
                errno = socket.Send(requests.AsSpan(0, length));
                if (errno != 0)
                {
                    return Classify(errno, "send(SOCK_DIAG_BY_FAMILY)");
                }

                while (expected > 0 && truncatedTo == 0)
                {
                    var received = socket.Receive(buffer, out errno);
                    if (received < 0)
                    {
                        return errno == Errnos.EAGAIN
                            ? CensusResult.Failed(Errnos.ENOBUFS, "sock_diag replies were lost (the receive queue overflowed)")
                            : Classify(errno, "recv(NETLINK_SOCK_DIAG)");
                    }

                    if (received > buffer.Length)
                    {
                        truncatedTo = received;
                        break;
                    }

                    var reader = new SockDiagReader(buffer.AsSpan(0, received));
                    SockDiagMessageKind kind;
                    while ((kind = reader.Read(out var replyTo, out var error, out var record)) != SockDiagMessageKind.End)
                    {
                        var index = (int)replyTo - 1;
                        if (kind == SockDiagMessageKind.Malformed)
                        {
                            return CensusResult.Failed(0, "a sock_diag reply message did not have the kernel's shape");
                        }

                        if (index < 0 || index >= batch.Length || answered[index])
                        {
                            continue;
                        }

                        if (kind == SockDiagMessageKind.Error && error != Errnos.ENOENT)
                        {
                            return Classify(error, "SOCK_DIAG_BY_FAMILY (exact)");
                        }

                        // The kernel's lookup falls back to a listener on the local port when no
                        // connection has the tuple: only the connection itself is an answer.
                        if (kind == SockDiagMessageKind.Socket && SocketIdentity.Of(record) == wanted[index])
                        {
                            table.Add(record);
                        }

                        answered[index] = true;
                        expected--;
                    }
                }
            }

            if (truncatedTo == 0)
            {
                return CensusResult.Ok;
            }

            if (attempt == MaxAttempts)
            {
                return CensusResult.Failed(0, "sock_diag reply datagrams kept outgrowing the receive buffer");
            }

            Grow(truncatedTo);
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
        }
    }

    private void Grow(int needed)
    {
        Interlocked.Increment(ref _truncatedReplies);
        var size = Volatile.Read(ref _receiveBufferSize);
        Volatile.Write(ref _receiveBufferSize, Math.Max(needed, size * 2));
    }

    private enum DumpKind
    {
        Probe,
        Filtered,
        All,
    }

    private readonly struct DumpPlan
    {
        public static readonly DumpPlan Probe = new(DumpKind.Probe, [SockDiagRequest.AfInet]);
        public static readonly DumpPlan FilteredBothFamilies = new(DumpKind.Filtered, [SockDiagRequest.AfInet, SockDiagRequest.AfInet6]);
        public static readonly DumpPlan FilteredIPv6 = new(DumpKind.Filtered, [SockDiagRequest.AfInet6]);
        public static readonly DumpPlan AllBothFamilies = new(DumpKind.All, [SockDiagRequest.AfInet, SockDiagRequest.AfInet6]);

        private DumpPlan(DumpKind kind, byte[] families)
        {
            Kind = kind;
            Families = families;
        }

        public DumpKind Kind { get; }

        public byte[] Families { get; }
    }
}
