using System.Net;
using System.Net.Sockets;
using System.Text;

namespace TuplePool.NetnsRunner;

/// <summary>
/// A minimal HTTP/1.1 server whose way of ending each connection is chosen by the path:
/// <c>/keep</c> keeps it open, <c>/close</c> answers with <c>Connection: close</c> and closes
/// first (FIN), <c>/reset</c> answers and then resets (RST). When the client closes first it
/// closes its side too.
/// </summary>
internal sealed class RawHttpServer : IAsyncDisposable
{
    private static readonly byte[] KeepResponse = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    private static readonly byte[] CloseResponse = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private int _accepted;

    public RawHttpServer(IPEndPoint endPoint)
    {
        _listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        _listener.Bind(endPoint);
        _listener.Listen(64);
        _accepting = AcceptAsync();
    }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _accepting;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptAsync(_stop.Token);
            Interlocked.Increment(ref _accepted);
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[4096];
        var pending = new StringBuilder();
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                if (read == 0)
                {
                    socket.Dispose(); // the client closed first: our FIN second, its TIME_WAIT
                    return;
                }

                pending.Append(Encoding.ASCII.GetString(buffer, 0, read));
                int end;
                while ((end = pending.ToString().IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var request = pending.ToString(0, end);
                    pending.Remove(0, end + 4);
                    var path = request.Split(' ', 3)[1];
                    switch (path)
                    {
                        case "/close":
                            await socket.SendAsync(CloseResponse, _stop.Token);
                            socket.Shutdown(SocketShutdown.Send);
                            await DrainThenCloseAsync(socket);
                            return;
                        case "/reset":
                            await socket.SendAsync(KeepResponse, _stop.Token);
                            await Task.Delay(200, _stop.Token); // let the client read the response first
                            socket.LingerState = new LingerOption(true, 0);
                            socket.Dispose();
                            return;
                        default:
                            await socket.SendAsync(KeepResponse, _stop.Token);
                            break;
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            socket.Dispose();
        }
    }

    /// <summary>After our FIN, wait for the client's (so our close never resets) and close.</summary>
    private async Task DrainThenCloseAsync(Socket socket)
    {
        var buffer = new byte[256];
        try
        {
            while (await socket.ReceiveAsync(buffer.AsMemory(), _stop.Token) > 0)
            {
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
        }

        socket.Dispose();
    }
}
