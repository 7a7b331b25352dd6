using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace TuplePool.Tests.Support;

/// <summary>
/// A real TCP server on 127.0.0.1 (a port below 32768, see <see cref="ListenerPorts"/>) that accepts and holds
/// connections, records the client endpoints it saw, and can write to or close its side.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly Socket _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly ConcurrentDictionary<IPEndPoint, Socket> _accepted = new();
    private int _acceptedTotal;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public LoopbackServer(IPAddress? address = null, bool echo = false)
    {
        address ??= IPAddress.Loopback;
        _listener = ListenerPorts.BindListener(address);
        _listener.Listen(4096);
        EndPoint = (IPEndPoint)_listener.LocalEndPoint!;
        Echo = echo;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint EndPoint { get; }

    public bool Echo { get; }

    public int AcceptedTotal => Volatile.Read(ref _acceptedTotal);

    public int Open => _accepted.Count;

    /// <summary>Every distinct client address the server has accepted from.</summary>
    public ConcurrentDictionary<IPAddress, int> ClientAddresses { get; } = new();

    /// <summary>
    /// Waits until <paramref name="condition"/> holds, re-checking it each time the server accepts
    /// or closes a connection (never on a timer), for at most <paramref name="limit"/> (10 s by
    /// default); false when it never held. Use it before reading <see cref="AcceptedTotal"/> or
    /// <see cref="Open"/>: the accept loop counts on its own thread, after the client's connect
    /// has already returned.
    /// </summary>
    public async Task<bool> WaitUntilAsync(Func<LoopbackServer, bool> condition, TimeSpan? limit = null)
    {
        var started = TimeProvider.System.GetTimestamp();
        var budget = limit ?? TimeSpan.FromSeconds(10);
        while (true)
        {
            // Take the pulse before testing, so a change between the test and the wait is not missed.
            var changed = Volatile.Read(ref _changed).Task;
            if (condition(this))
            {
                return true;
            }

            var left = budget - TimeProvider.System.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return false;
            }

            try
            {
                await changed.WaitAsync(left);
            }
            catch (TimeoutException)
            {
                return condition(this);
            }
        }
    }

    private void Changed() => Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

    /// <summary>Waits until the server has accepted the connection from <paramref name="client"/>.</summary>
    public async Task<Socket> WaitForAsync(IPEndPoint client)
    {
        for (var i = 0; i < 500; i++)
        {
            if (_accepted.TryGetValue(client, out var socket))
            {
                return socket;
            }

            await Task.Delay(10);
        }

        throw new TimeoutException($"The server never accepted {client}.");
    }

    /// <summary>The server writes bytes to the client's socket (they sit unread on the client).</summary>
    public async Task SendAsync(IPEndPoint client, byte[] data)
    {
        var socket = await WaitForAsync(client);
        await socket.SendAsync(data);
    }

    /// <summary>The server closes its side first (the client reads FIN; TIME_WAIT is the server's).</summary>
    public async Task CloseAsync(IPEndPoint client)
    {
        var socket = await WaitForAsync(client);
        _accepted.TryRemove(client, out _);
        socket.Dispose();
        Changed();
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _acceptLoop;
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        foreach (var socket in _accepted.Values)
        {
            // Abortive: test servers must not leave TIME_WAIT behind for later tests.
            try
            {
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (ObjectDisposedException)
            {
                // The serve loop closed it as the server stopped.
            }

            socket.Dispose();
        }

        _accepted.Clear();
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            // Counted before it is visible to WaitForAsync, so a test that waited for a client sees it counted.
            var remote = (IPEndPoint)socket.RemoteEndPoint!;
            Interlocked.Increment(ref _acceptedTotal);
            ClientAddresses.AddOrUpdate(remote.Address, 1, (_, n) => n + 1);
            _accepted[remote] = socket;
            Changed();
            _ = Task.Run(() => ServeAsync(remote, socket));
        }
    }

    private async Task ServeAsync(IPEndPoint remote, Socket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (true)
            {
                var read = await socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                if (read == 0)
                {
                    // The client closed first: close our side too (the client keeps TIME_WAIT).
                    if (_accepted.TryRemove(new KeyValuePair<IPEndPoint, Socket>(remote, socket)))
                    {
                        socket.Dispose();
                        Changed();
                    }

                    return;
                }

                if (Echo)
                {
                    await socket.SendAsync(buffer.AsMemory(0, read), SocketFlags.None, _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            if (_accepted.TryRemove(new KeyValuePair<IPEndPoint, Socket>(remote, socket)))
            {
                socket.Dispose();
                Changed();
            }
        }
    }
}
