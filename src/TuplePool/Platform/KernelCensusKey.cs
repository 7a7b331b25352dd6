using System.Net;

namespace TuplePool.Platform;

/// <summary>What the census counts by: local IP, remote IP and port, state (the local port is left out).</summary>
internal readonly record struct KernelCensusKey(IPAddress LocalAddress, IPAddress RemoteAddress, int RemotePort, TcpState State);
