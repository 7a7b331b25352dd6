using System.Net.Sockets;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// TuplePoolOptions.KeepAlive on real pooled sockets, read back from the kernel with getsockopt:
/// SO_KEEPALIVE (SOL_SOCKET 1, option 9) and TCP_KEEPIDLE / TCP_KEEPINTVL / TCP_KEEPCNT
/// (IPPROTO_TCP 6, options 4 / 5 / 6).
/// </summary>
public sealed class KeepAliveTests
{
    private static int Read(Socket socket, int level, int name)
    {
        Span<byte> value = stackalloc byte[sizeof(int)];
        Assert.Equal(sizeof(int), socket.GetRawSocketOption(level, name, value));
        return BitConverter.ToInt32(value);
    }

    [Fact]
    public async Task KeepAliveSet_EveryNewSocketCarriesItsTimes()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads the Linux option numbers back");
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = PortSlices.Next(10),
            KeepAlive = new TcpKeepAlive { Time = TimeSpan.FromSeconds(45), Interval = TimeSpan.FromSeconds(7), RetryCount = 4 },
        });

        using var lease = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(1, Read(lease.Socket, 1, 9));
        Assert.Equal(45, Read(lease.Socket, 6, 4));
        Assert.Equal(7, Read(lease.Socket, 6, 5));
        Assert.Equal(4, Read(lease.Socket, 6, 6));
    }

    [Fact]
    public async Task KeepAliveNull_Default_LeavesItOff()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "reads the Linux option numbers back");
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Next(10) });

        using var lease = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(0, Read(lease.Socket, 1, 9));
    }
}
