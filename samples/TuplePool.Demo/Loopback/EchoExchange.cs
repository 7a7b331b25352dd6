using System.Net.Sockets;

namespace TuplePool.Demo.Loopback;

/// <summary>
/// The small request/response protocol of the churn scenario: the client writes a fixed-size
/// request, the echo server writes the same bytes back, the client reads exactly that many.
/// </summary>
internal static class EchoExchange
{
    /// <summary>Bytes per request (and per response).</summary>
    public const int MessageSize = 64;

    /// <summary>Sends <paramref name="request"/> and reads its echo into <paramref name="response"/>.</summary>
    public static async ValueTask RoundTripAsync(Socket socket, ReadOnlyMemory<byte> request, Memory<byte> response, CancellationToken cancellationToken = default)
    {
        var sent = 0;
        while (sent < request.Length)
        {
            sent += await socket.SendAsync(request[sent..], SocketFlags.None, cancellationToken);
        }

        var received = 0;
        while (received < request.Length)
        {
            var read = await socket.ReceiveAsync(response[received..request.Length], SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                throw new SocketException((int)SocketError.ConnectionReset);
            }

            received += read;
        }
    }
}
