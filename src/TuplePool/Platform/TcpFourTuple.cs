using System.Net;

namespace TuplePool.Platform;

/// <summary>One connection's addresses and ports, as asked about in <see cref="IKernelCensus.TryLookup"/>.</summary>
internal readonly record struct TcpFourTuple(IPAddress LocalAddress, int LocalPort, IPAddress RemoteAddress, int RemotePort)
{
    /// <summary>The four-tuple of <paramref name="socket"/>.</summary>
    public static TcpFourTuple Of(in KernelSocket socket) => new(socket.LocalAddress, socket.LocalPort, socket.RemoteAddress, socket.RemotePort);
}
