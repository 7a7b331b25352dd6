using System.Net;

namespace TuplePool.Platform;

/// <summary>Socket counts per (source IP, destination IP, destination port) and TCP state.</summary>
internal sealed class KernelCensusSnapshot
{
    public int MalformedLines => throw new NotImplementedException();

    /// <summary>Sockets in any state but LISTEN; a source of Any/IPv6Any matches every source.</summary>
    public int CountUsing(IPAddress source, IPEndPoint destination) => throw new NotImplementedException();

    public int Count(IPAddress source, IPEndPoint destination, TcpState state) => throw new NotImplementedException();
}
