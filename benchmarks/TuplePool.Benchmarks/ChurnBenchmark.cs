using System.Net;
using BenchmarkDotNet.Attributes;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>
/// One small request/response (64 bytes each way, the demo's echo protocol) per operation: a new
/// connection per request against a lease from the pool. Requests/s is 1 / Mean. Goal: the pool
/// at least 3x the requests/s.
/// </summary>
/// <remarks>
/// The connection-per-request side closes with RST. That is its best case: a graceful close would
/// leave a TIME_WAIT per request and, within seconds, fail with EADDRNOTAVAIL (the demo shows
/// that); here it runs at full speed for the whole measurement.
/// </remarks>
[MemoryDiagnoser]
public class ChurnBenchmark
{
    private readonly byte[] _request = new byte[EchoExchange.MessageSize];
    private readonly byte[] _response = new byte[EchoExchange.MessageSize];
    private ChildServer _server = null!;
    private IPEndPoint _destination = null!;
    private SocketPool _pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        Random.Shared.NextBytes(_request);
        _server = BenchmarkServer.StartSockets();
        _destination = _server.Echo;
        _pool = new SocketPool(new TuplePoolOptions { LocalPortRange = ClientPorts.Churn, CloseMode = CloseMode.Abortive });
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "connection per request")]
    public async Task ConnectionPerRequest()
    {
        var socket = RawSocket.CreateTcp();
        try
        {
            RawSocket.SetLocalPortRange(socket, ClientPorts.Churn);
            await socket.ConnectAsync(_destination);
            await EchoExchange.RoundTripAsync(socket, _request, _response);
        }
        finally
        {
            RawSocket.CloseAbortive(socket);
        }
    }

    [Benchmark(Description = "pooled lease (checked)")]
    public async Task PooledLease()
    {
        var lease = await _pool.AcquireAsync(_destination);
        try
        {
            await EchoExchange.RoundTripAsync(lease.Socket, _request, _response);
        }
        catch
        {
            lease.Invalidate();
            throw;
        }
        finally
        {
            lease.Dispose();
        }
    }
}
