using System.Net;
using System.Net.Http;
using BenchmarkDotNet.Attributes;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>
/// GET of a small JSON body from Kestrel (in a child process) on loopback: the default
/// <see cref="SocketsHttpHandler"/> against one with <c>UseTuplePool(pool)</c>. Keep-alive reuses
/// one connection, so the pool is only in the connect path (goal: at least 0.97x the default's
/// requests/s); with <c>Connection: close</c> every request opens a new connection through it.
/// </summary>
/// <remarks>
/// With <c>Connection: close</c> the server closes first, so no client port goes into TIME_WAIT;
/// the pool still closes its side with RST (<c>CloseMode.Abortive</c>) so that a FIN not yet
/// read when the handler drops the connection cannot leave the ledger charging a TIME_WAIT that
/// does not exist.
/// </remarks>
[MemoryDiagnoser]
public class HttpClientBenchmark
{
    private ChildServer _server = null!;
    private Uri _uri = null!;
    private SocketPool _pool = null!;
    private HttpClient _default = null!;
    private HttpClient _tuplePool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartHttp();
        _uri = new Uri($"http://127.0.0.1:{_server.Ports["http"]}/");
        _pool = new SocketPool(new TuplePoolOptions { LocalPortRange = ClientPorts.Http, CloseMode = CloseMode.Abortive });
        _default = new HttpClient(new SocketsHttpHandler());
        _tuplePool = new HttpClient(new SocketsHttpHandler().UseTuplePool(_pool));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _default.Dispose();
        _tuplePool.Dispose();
        _pool.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "keep-alive, default handler")]
    public Task<byte[]> KeepAliveDefault() => _default.GetByteArrayAsync(_uri);

    [Benchmark(Description = "keep-alive, UseTuplePool")]
    public Task<byte[]> KeepAliveTuplePool() => _tuplePool.GetByteArrayAsync(_uri);

    [Benchmark(Description = "Connection: close, default handler")]
    public Task NewConnectionDefault() => GetClosingAsync(_default);

    [Benchmark(Description = "Connection: close, UseTuplePool")]
    public Task NewConnectionTuplePool() => GetClosingAsync(_tuplePool);

    private async Task GetClosingAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, _uri);
        request.Headers.ConnectionClose = true;
        using var response = await client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    }
}
