using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using TuplePool.Connecting;
using TuplePool.Demo.Loopback;
using TuplePool.Platform;

namespace TuplePool.Benchmarks;

/// <summary>
/// connect() with ~16,000 connections already open to the same destination (opened by plain
/// sockets, so every even port is taken). A plain connect() walks all even ports before trying an
/// odd one; the pool sets IP_LOCAL_PORT_RANGE (the system range when none is configured), which on
/// Linux 6.8+ turns that even/odd search off. The server half of the crowd lives in a child process
/// (20,000 descriptors per process). The baseline is the floor at the crowd: <c>ConnectAsync</c> on
/// a socket with IP_LOCAL_PORT_RANGE set to the system range, as the pool's sockets have it. Goals:
/// the pool at most 1.10x that floor, and so at least 5x faster than the plain connect.
/// </summary>
/// <remarks>
/// The internal <c>SocketConnector</c> row is the connect alone: the same socket options and
/// direct connect the pool makes, without the pool's bookkeeping around them.
/// </remarks>
[MemoryDiagnoser]
public class CrowdedConnectBenchmark
{
    private readonly List<Socket> _crowd = [];
    private ChildServer _server = null!;
    private IPEndPoint _destination = null!;
    private SocketPool _pool = null!;
    private SocketConnector _connector = null!;
    private PortRange _systemRange;

    /// <summary>Connections held open to the destination while connects are timed.</summary>
    [Params(16_000)]
    public int OpenConnections { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartSockets();
        _destination = _server.Hold;
        while (_crowd.Count < OpenConnections)
        {
            var socket = RawSocket.CreateTcp();
            RawSocket.SetAbortiveClose(socket);
            socket.Connect(_destination);
            _crowd.Add(socket);
        }

        if (!_server.WaitForCount(OpenConnections, TimeSpan.FromSeconds(30)))
        {
            throw new InvalidOperationException($"The server child holds {_server.Count()} connections, not {OpenConnections}.");
        }

        // As a user would configure it: no sources, no range (the pool sets the system range itself).
        _pool = new SocketPool(new TuplePoolOptions { CloseMode = CloseMode.Abortive });
        var kernel = KernelSettings.Read(ProcFileSystem.Default);
        _systemRange = kernel.PortRange;
        _connector = new SocketConnector(kernel, poolRange: null, connectDirectly: true);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _pool.Dispose();
        foreach (var socket in _crowd)
        {
            RawSocket.CloseAbortive(socket);
        }

        _crowd.Clear();
        _server.Dispose();
    }

    [Benchmark(Description = "plain ConnectAsync (even/odd search)")]
    public ValueTask PlainConnect() => ConnectOnce.RawAsync(_destination);

    [Benchmark(Baseline = true, Description = "floor: ConnectAsync + IP_LOCAL_PORT_RANGE (system range)")]
    public ValueTask FloorConnect() => ConnectOnce.RawAsync(_destination, _systemRange);

    [Benchmark(Description = "SocketConnector only (internal): range option + direct connect")]
    public ValueTask ConnectorOnly() => ConnectOnce.ConnectorAsync(_connector, _destination);

    [Benchmark(Description = "SocketPool new connection")]
    public ValueTask PoolConnect() => ConnectOnce.PoolAsync(_pool, _destination);
}
