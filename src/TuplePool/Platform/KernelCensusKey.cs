using System.Net;

namespace TuplePool.Platform;

/// <summary>
/// What the census counts by: local IP and port, remote IP and port, state. The local port is
/// kept so a count can leave out sockets outside the range a pool's sockets draw from.
/// </summary>
internal readonly record struct KernelCensusKey(IPAddress LocalAddress, int LocalPort, IPAddress RemoteAddress, int RemotePort, TcpState State);
