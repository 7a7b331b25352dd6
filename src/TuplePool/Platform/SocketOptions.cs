using System.Net.Sockets;

namespace TuplePool.Platform;

/// <summary>The raw socket options TuplePool sets.</summary>
internal static class SocketOptions
{
    public static bool TrySetBindAddressNoPort(Socket socket) => throw new NotImplementedException();

    public static bool TrySetLocalPortRange(Socket socket, PortRange range) => throw new NotImplementedException();

    public static bool TrySetReuseUnicastPort(Socket socket) => throw new NotImplementedException();

    public static void SetAbortiveClose(Socket socket) => throw new NotImplementedException();
}
