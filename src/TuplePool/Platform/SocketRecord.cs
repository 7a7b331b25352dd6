namespace TuplePool.Platform;

/// <summary>
/// One socket as a parser read it (a <c>/proc/net/tcp</c> line or an <c>inet_diag_msg</c>), before
/// any <see cref="System.Net.IPAddress"/> is made: counting and filtering work on these, and only
/// the sockets handed to a caller become <see cref="KernelSocket"/>s.
/// </summary>
internal readonly struct SocketRecord
{
    public SocketRecord(
        UInt128 localAddress,
        int localPort,
        UInt128 remoteAddress,
        int remotePort,
        TcpState state,
        KernelTimer timer,
        long timerMilliseconds,
        uint receiveQueue,
        uint sendQueue,
        uint inode,
        ulong cookie)
    {
        LocalAddress = localAddress;
        LocalPort = localPort;
        RemoteAddress = remoteAddress;
        RemotePort = remotePort;
        State = state;
        Timer = timer;
        TimerMilliseconds = timerMilliseconds;
        ReceiveQueue = receiveQueue;
        SendQueue = sendQueue;
        Inode = inode;
        Cookie = cookie;
    }

    /// <summary>See <see cref="AddressBits"/>.</summary>
    public UInt128 LocalAddress { get; }

    public int LocalPort { get; }

    /// <summary>See <see cref="AddressBits"/>.</summary>
    public UInt128 RemoteAddress { get; }

    public int RemotePort { get; }

    public TcpState State { get; }

    public KernelTimer Timer { get; }

    /// <summary>Until the timer fires (0 when none runs).</summary>
    public long TimerMilliseconds { get; }

    public uint ReceiveQueue { get; }

    public uint SendQueue { get; }

    /// <summary>0 when no descriptor holds the socket.</summary>
    public uint Inode { get; }

    /// <summary>The kernel's socket cookie (<c>idiag_cookie</c>), unique per socket while it lives; 0 from <c>/proc</c>, which does not print it.</summary>
    public ulong Cookie { get; }

    /// <summary>True for a socket with a peer (not a listener, not merely bound).</summary>
    public bool IsConnected => RemotePort != 0;

    public KernelSocket ToKernelSocket() => new(
        AddressBits.ToIPAddress(LocalAddress),
        LocalPort,
        AddressBits.ToIPAddress(RemoteAddress),
        RemotePort,
        State,
        Timer,
        Timer == KernelTimer.None ? null : TimeSpan.FromMilliseconds(TimerMilliseconds),
        Inode,
        (int)Math.Min(ReceiveQueue, int.MaxValue),
        (int)Math.Min(SendQueue, int.MaxValue));
}
