using System.Net.Sockets;

namespace TuplePool.Pooling;

/// <summary>A <see cref="NetworkStream"/> that does not own the socket and remembers being disposed.</summary>
internal sealed class PooledNetworkStream(Socket socket) : NetworkStream(socket, ownsSocket: false)
{
    public bool WasDisposed { get; private set; }

    protected override void Dispose(bool disposing)
    {
        WasDisposed = true;
        base.Dispose(disposing);
    }
}
