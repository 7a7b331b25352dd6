using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Platform;
using TuplePool.Sources;

namespace TuplePool.Connecting;

/// <summary>
/// A freshly connected socket and the charge it holds, owned together until someone takes them
/// over (<see cref="TakeOver"/>, the pool making a pooled connection of it). Disposing it before
/// that closes the socket abortively (RST: nothing left in TIME_WAIT) and releases the charge:
/// what a failed step after the connect, a lost Happy Eyeballs race, or a result a user's Polly
/// strategy throws away (Polly's own retry and hedging dispose results they discard) all do.
/// </summary>
internal sealed class OpenedConnection : IDisposable
{
    private Socket? _socket;

    public OpenedConnection(Socket socket, ConnectionCharge charge, SourceAddress source)
    {
        _socket = socket;
        Charge = charge;
        Source = source;
    }

    /// <summary>The connected socket; null once taken over or disposed.</summary>
    public Socket Socket => Volatile.Read(ref _socket) ?? throw new ObjectDisposedException(nameof(OpenedConnection));

    public ConnectionCharge Charge { get; }

    public SourceAddress Source { get; }

    /// <summary>Hands the socket and its charge to their next owner; null when it was disposed first.</summary>
    public Socket? TakeOver() => Interlocked.Exchange(ref _socket, null);

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _socket, null) is not { } socket)
        {
            return;
        }

        try
        {
            SocketOptions.SetAbortiveClose(socket);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already reset or closed.
        }

        socket.Dispose();
        Charge.Release(ReleaseKind.Free);
    }
}
