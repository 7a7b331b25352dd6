using System.Net;
using System.Net.Sockets;

namespace TuplePool.Connecting;

/// <summary>Opens one TCP connection from one source; the seam the pool's tests substitute.</summary>
internal interface ISocketConnector
{
    /// <summary>
    /// Creates, configures, binds (unless <paramref name="source"/> is Any) and connects a socket.
    /// Throws <see cref="SourceBindException"/> when the source cannot be bound and
    /// <see cref="SocketException"/> when the connect fails; never leaks the socket.
    /// </summary>
    ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken);
}
