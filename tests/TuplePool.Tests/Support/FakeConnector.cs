using System.Net;
using System.Net.Sockets;
using NSubstitute;
using TuplePool.Connecting;

namespace TuplePool.Tests.Support;

/// <summary>
/// An <see cref="ISocketConnector"/> substitute that opens real loopback connections from the
/// whole system port range (no slice), so tests on a fake clock are not held up by the real
/// kernel's TIME_WAIT, and that counts its calls.
/// </summary>
public static class FakeConnector
{
    internal static ISocketConnector Create()
    {
        var connector = Substitute.For<ISocketConnector>();
        connector
            .ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => ConnectAsync(call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1), call.ArgAt<CancellationToken>(2)));
        return connector;
    }

    private static async ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var socket = new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (!source.Equals(IPAddress.Any) && !source.Equals(IPAddress.IPv6Any))
            {
                // NO_PORT: a plain bind(src, 0) would own a port for every destination and could
                // take one out of another test's client slice.
                TuplePool.Platform.SocketOptions.TrySetBindAddressNoPort(socket);
                socket.Bind(new IPEndPoint(source, 0));
            }

            await socket.ConnectAsync(destination, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
