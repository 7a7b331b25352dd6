using System.Net;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's raw-pool example: lease, write, read the whole answer, invalidate on failure.</summary>
public static class RawPool
{
    public static async Task<TuplePoolSnapshot> RunAsync(int port, byte[] request, CancellationToken cancellationToken)
    {
        // <readme name="raw-pool">
        await using var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = { IPAddress.Parse("127.0.0.2"), IPAddress.Parse("127.0.0.3") },
            MaxIdlePerDestination = 128,
            AcquireTimeout = TimeSpan.FromSeconds(5),
        });

        var backend = new IPEndPoint(IPAddress.Loopback, port);   // or new DnsEndPoint("localhost", port)
        await using (var lease = await pool.AcquireAsync(backend, cancellationToken))
        {
            try
            {
                await lease.Stream.WriteAsync(request, cancellationToken);
                await ReadWholeResponseAsync(lease.Stream, request.Length, cancellationToken);
            }
            catch
            {
                lease.Invalidate();   // half-read response: close it instead of lending it again
                throw;
            }
        }   // Dispose returns the socket to the idle store

        Console.WriteLine(pool.GetSnapshot());   // 127.0.0.2 -> 127.0.0.1:7000: 0 active, 1 idle, 0 TIME_WAIT, 28231 of 28232 free
        // </readme>
        return pool.GetSnapshot();
    }

    /// <summary>The echo server answers with the request's own bytes.</summary>
    private static async Task ReadWholeResponseAsync(Stream stream, int length, CancellationToken cancellationToken)
    {
        var buffer = new byte[length];
        await stream.ReadExactlyAsync(buffer, cancellationToken);
    }
}
