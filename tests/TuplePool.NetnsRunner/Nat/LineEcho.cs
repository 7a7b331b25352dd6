using System.Net.Sockets;
using System.Text;

namespace TuplePool.NetnsRunner;

/// <summary>Proof that a connection through the NAT lab carries data: one line out, the same line back.</summary>
internal static class LineEcho
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    /// <summary>False (never a throw) when the connection is dead or the line comes back wrong.</summary>
    public static async Task<bool> TryAsync(Socket socket, int index)
    {
        var line = Encoding.ASCII.GetBytes($"ping {index}\n");
        var received = new byte[line.Length];
        using var limit = new CancellationTokenSource(Timeout);
        try
        {
            await socket.SendAsync(line, SocketFlags.None, limit.Token);
            var total = 0;
            while (total < received.Length)
            {
                var read = await socket.ReceiveAsync(received.AsMemory(total), SocketFlags.None, limit.Token);
                if (read == 0)
                {
                    return false;
                }

                total += read;
            }

            return received.AsSpan().SequenceEqual(line);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
