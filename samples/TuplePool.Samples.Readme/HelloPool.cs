using System.Net;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's "hello pool": one lease from a pool with two source addresses.</summary>
public static class HelloPool
{
    public static async Task<string> RunAsync(int port)
    {
        // <readme name="hello-pool">
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = { IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3") }, // this host's own addresses
        });

        await using var lease = await pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, port));
        await lease.Stream.WriteAsync("ping\n"u8.ToArray());
        Console.WriteLine($"{lease.LocalEndPoint} -> {lease.RemoteEndPoint}, reused: {lease.IsReused}");
        // </readme>
        return lease.LocalEndPoint.Address.ToString();
    }
}
