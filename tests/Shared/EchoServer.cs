using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.TestServers;

/// <summary>An echo server inside the namespace that can be reset, stopped and started again on its port.</summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly ConcurrentDictionary<Socket, byte> _accepted = new();
    private Socket? _listener;
    private Task? _loop;

    public EchoServer(IPEndPoint endPoint)
    {
        EndPoint = endPoint;
        Start();
    }

    public IPEndPoint EndPoint { get; }

    /// <summary>Requests whose reply the server drops with RST instead (RST in mid-request).</summary>
    public int ResetNextRequests;

    public int Open => _accepted.Count;

    public void Start()
    {
        var listener = new Socket(EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        if (EndPoint.AddressFamily == AddressFamily.InterNetworkV6)
        {
            listener.DualMode = true;
        }

        listener.Bind(EndPoint);
        listener.Listen(1024);
        _listener = listener;
        _loop = Task.Run(() => AcceptLoopAsync(listener));
    }

    /// <summary>The server goes away: listener closed, every connection reset (a crash, a restart).</summary>
    public async Task StopAsync()
    {
        _listener?.Dispose();
        if (_loop is not null)
        {
            await _loop;
        }

        AbortAll();
    }

    /// <summary>Every accepted connection closed with RST.</summary>
    public void AbortAll()
    {
        foreach (var socket in _accepted.Keys)
        {
            Abort(socket);
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync();

    private static void Abort(Socket socket)
    {
        try
        {
            socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        socket.Dispose();
    }

    private bool TryTakeReset()
    {
        int left;
        do
        {
            left = Volatile.Read(ref ResetNextRequests);
            if (left <= 0)
            {
                return false;
            }
        }
        while (Interlocked.CompareExchange(ref ResetNextRequests, left - 1, left) != left);
        return true;
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync();
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.TooManyOpenSockets)
            {
                // The open-file scenario runs this process out of descriptors on purpose: the
                // connection waits in the backlog until one is free.
                await Task.Delay(20);
                continue;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            _accepted[socket] = 0;
            _ = Task.Run(() => ServeAsync(socket));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        var buffer = new byte[256];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None);
                if (read == 0)
                {
                    break;
                }

                if (TryTakeReset())
                {
                    Abort(socket);
                    return;
                }

                await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _accepted.TryRemove(socket, out _);
            socket.Dispose();
        }
    }
}
