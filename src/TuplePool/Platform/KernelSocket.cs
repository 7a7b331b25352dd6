using System.Net;

namespace TuplePool.Platform;

/// <summary>
/// One TCP socket as the kernel reports it, from either census backend. IPv4-mapped IPv6
/// addresses (a dual-stack socket talking IPv4) come as IPv4, the way the kernel's port search
/// sees them.
/// </summary>
/// <param name="LocalAddress">The local (bound or chosen) address.</param>
/// <param name="LocalPort">The local port.</param>
/// <param name="RemoteAddress">The peer's address; <c>0.0.0.0</c> or <c>::</c> for a listener.</param>
/// <param name="RemotePort">The peer's port; 0 for a listener.</param>
/// <param name="State">The TCP state (a TIME-WAIT socket kept for an orphaned FIN-WAIT-2 reports <see cref="TcpState.FinWait2"/>).</param>
/// <param name="Timer">The timer that runs, if any.</param>
/// <param name="TimerLeft">
/// How long until <paramref name="Timer"/> fires; null when no timer runs. For
/// <see cref="KernelTimer.TimeWait"/> it is how long the socket keeps its tuple. Netlink reports
/// milliseconds, <c>/proc</c> clock ticks of 10 ms.
/// </param>
/// <param name="Inode">The socket's inode (names the process that holds it); 0 for a socket no descriptor holds (TIME-WAIT, request, orphaned).</param>
/// <param name="ReceiveQueue">Bytes received and not yet read; for a listener, connections waiting in accept().</param>
/// <param name="SendQueue">Bytes sent and not yet acknowledged; for a listener, its backlog (netlink only).</param>
internal readonly record struct KernelSocket(
    IPAddress LocalAddress,
    int LocalPort,
    IPAddress RemoteAddress,
    int RemotePort,
    TcpState State,
    KernelTimer Timer,
    TimeSpan? TimerLeft,
    uint Inode,
    int ReceiveQueue,
    int SendQueue);
