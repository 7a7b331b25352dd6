using System.Net.Sockets;
using TuplePool.Budget;
using TuplePool.Platform;

namespace TuplePool.Pooling;

/// <summary>Closes a socket and says what the close leaves on its tuple.</summary>
internal static class ConnectionCloser
{
    /// <summary>
    /// Abortive: RST, nothing left. Graceful: TIME_WAIT only when this side closes first. If the
    /// socket is readable at close time the peer has sent FIN or RST (it closed first, so its side
    /// takes TIME_WAIT), or bytes are unread — and Linux answers a close with unread data by RST
    /// instead of FIN. Either way no TIME_WAIT is left here; charging one would make the ledger
    /// drift from what <c>ss</c> shows.
    /// </summary>
    public static ReleaseKind Close(Socket socket, CloseMode mode)
    {
        if (mode == CloseMode.Abortive)
        {
            try
            {
                SocketOptions.SetAbortiveClose(socket);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already reset or closed: nothing left to abort.
            }

            socket.Dispose();
            return ReleaseKind.Free;
        }

        bool peerClosedOrDirty;
        try
        {
            peerClosedOrDirty = socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            peerClosedOrDirty = true;
        }

        socket.Dispose();
        return peerClosedOrDirty ? ReleaseKind.Free : ReleaseKind.TimeWait;
    }
}
