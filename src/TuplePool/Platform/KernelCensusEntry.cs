using System.Net;

namespace TuplePool.Platform;

/// <summary>
/// One socket line of <c>/proc/net/tcp</c> or <c>/proc/net/tcp6</c>. IPv4-mapped IPv6 addresses
/// (a dual-stack socket talking IPv4) are stored as IPv4, the way the kernel's tuple search sees them.
/// </summary>
internal readonly record struct KernelCensusEntry(
    IPAddress LocalAddress,
    int LocalPort,
    IPAddress RemoteAddress,
    int RemotePort,
    TcpState State);
