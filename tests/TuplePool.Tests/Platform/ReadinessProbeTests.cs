using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Platform;

public sealed class ReadinessProbeTests
{
    private static async Task<(Socket Client, Socket Server, Socket Listener)> ConnectAsync(int? serverReceiveBuffer = null)
    {
        var listener = ListenerPorts.BindListener(IPAddress.Loopback);
        if (serverReceiveBuffer is { } size)
        {
            listener.ReceiveBufferSize = size; // inherited by the accepted socket
        }

        listener.Listen(4);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        Assert.True(SocketOptions.TrySetLocalPortRange(client, new PortRange(33960, 33999)));
        await client.ConnectAsync(listener.LocalEndPoint!);
        var server = await listener.AcceptAsync();
        return (client, server, listener);
    }

    // Waits (bounded) until the kernel has delivered what the server sent, instead of sleeping
    // and hoping: Socket.Poll blocks until the socket turns readable.
    private static void WaitForArrival(Socket client)
        => Assert.True(client.Poll(TimeSpan.FromSeconds(10), SelectMode.SelectRead), "nothing arrived from the server within 10 s");

    private static void CloseAll(params Socket[] sockets)
    {
        foreach (var socket in sockets)
        {
            SocketOptions.SetAbortiveClose(socket);
            socket.Dispose();
        }
    }

    [Fact]
    public async Task IsReadable_IdleConnectedSocket_IsFalse()
    {
        var (client, server, listener) = await ConnectAsync();

        Assert.False(ReadinessProbe.IsReadable(client));
        CloseAll(client, server, listener);
    }

    [Fact]
    public async Task IsReadable_UnreadBytes_IsTrue()
    {
        var (client, server, listener) = await ConnectAsync();
        await server.SendAsync(new byte[] { 7 });
        WaitForArrival(client);

        Assert.True(ReadinessProbe.IsReadable(client));
        CloseAll(client, server, listener);
    }

    [Fact]
    public async Task IsReadable_PeerClosed_IsTrue()
    {
        var (client, server, listener) = await ConnectAsync();
        server.Dispose(); // FIN
        WaitForArrival(client);

        Assert.True(ReadinessProbe.IsReadable(client));
        CloseAll(client, listener);
    }

    [Fact]
    public async Task IsReadable_PeerReset_IsTrue()
    {
        var (client, server, listener) = await ConnectAsync();
        SocketOptions.SetAbortiveClose(server);
        server.Dispose(); // RST
        WaitForArrival(client);

        Assert.True(ReadinessProbe.IsReadable(client));
        CloseAll(client, listener);
    }

    [Fact]
    public async Task IsReadable_DisposedSocket_Throws()
    {
        var (client, server, listener) = await ConnectAsync();
        client.Dispose();

        Assert.Throws<ObjectDisposedException>(() => ReadinessProbe.IsReadable(client));
        CloseAll(server, listener);
    }

    [Fact]
    public async Task HasUnsentBytes_IdleConnectedSocket_IsFalse()
    {
        var (client, server, listener) = await ConnectAsync();

        Assert.False(ReadinessProbe.HasUnsentBytes(client));
        Assert.False(ReadinessProbe.IsDirty(client));
        CloseAll(client, server, listener);
    }

    [Fact]
    public async Task IsDirty_RequestSentAndItsAnswerRead_IsFalse()
    {
        // The usual way a socket comes back: the answer acknowledged the request, nothing is queued.
        var (client, server, listener) = await ConnectAsync();
        await client.SendAsync(new byte[1000]);
        var request = new byte[1000];
        for (var read = 0; read < request.Length;)
        {
            read += await server.ReceiveAsync(request.AsMemory(read));
        }

        await server.SendAsync(new byte[] { 1 });
        Assert.Equal(1, await client.ReceiveAsync(new byte[1]));

        Assert.False(ReadinessProbe.IsDirty(client));
        CloseAll(client, server, listener);
    }

    [Fact]
    public async Task HasUnsentBytes_PeerThatDoesNotRead_IsTrueOnceItsWindowIsShut()
    {
        var (client, server, listener) = await ConnectAsync(serverReceiveBuffer: 4096);
        client.SendBufferSize = 4096;
        client.Blocking = false;
        var chunk = new byte[4096];
        var refused = Assert.Throws<SocketException>(() =>
        {
            for (var i = 0; i < 100_000; i++)
            {
                client.Send(chunk);
            }
        });
        Assert.Equal(SocketError.WouldBlock, refused.SocketErrorCode);

        Assert.True(await Eventually.TrueAsync(() => ReadinessProbe.HasUnsentBytes(client)), "the bytes the peer has no room for are still queued");
        Assert.False(ReadinessProbe.IsReadable(client)); // poll() alone saw nothing wrong
        Assert.True(ReadinessProbe.IsDirty(client));
        CloseAll(client, server, listener);
    }

    [Fact]
    public async Task HasUnsentBytes_DisposedSocket_Throws()
    {
        var (client, server, listener) = await ConnectAsync();
        client.Dispose();

        Assert.Throws<ObjectDisposedException>(() => ReadinessProbe.HasUnsentBytes(client));
        CloseAll(server, listener);
    }
}
