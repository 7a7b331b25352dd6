using System.Net;
using BenchmarkDotNet.Attributes;
using TuplePool.Connecting;
using TuplePool.Demo.Loopback;
using TuplePool.Platform;

namespace TuplePool.Benchmarks;

/// <summary>
/// A new connection when nothing is idle: the pool's whole miss path (budget reservation, source
/// choice, socket options, bind, connect through the Polly pipeline, lease) against a raw
/// <c>Socket.ConnectAsync</c> on loopback. Every connection is closed with RST at once (the pool by
/// <c>Invalidate()</c> with <c>CloseMode.Abortive</c>), so the run leaves no TIME_WAIT and the next
/// acquire connects again. Goal: at most 1.10x the raw connect.
/// </summary>
/// <remarks>
/// The internal <c>SocketConnector</c> rows (socket options and connect, no budget, no Polly, no
/// lease) split the pool's time into the connect itself and the bookkeeping around it: once
/// through the runtime's <c>ConnectAsync</c> (what the connector did before the direct connect)
/// and once with the direct connect the pool uses on Linux. <c>--connect-probe</c> times the
/// same with a Stopwatch, stage by stage.
/// </remarks>
[MemoryDiagnoser]
public class NewConnectionBenchmark
{
    private ChildServer _server = null!;
    private IPEndPoint _destination = null!;
    private SocketPool _kernelSource = null!;
    private SocketPool _fourSources = null!;
    private SocketConnector _connector = null!;
    private SocketConnector _runtimeConnector = null!;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartSockets();
        _destination = _server.Hold;

        // No source addresses: the kernel picks 127.0.0.1 as it does for the raw socket.
        _kernelSource = new SocketPool(new TuplePoolOptions { LocalPortRange = ClientPorts.NewConnection, CloseMode = CloseMode.Abortive });

        // The configuration the pool is for: four sources, bind with IP_BIND_ADDRESS_NO_PORT.
        var options = new TuplePoolOptions { LocalPortRange = ClientPorts.NewConnection, CloseMode = CloseMode.Abortive };
        foreach (var source in BenchmarkServer.Sources(4))
        {
            options.SourceAddresses.Add(source);
        }

        _fourSources = new SocketPool(options);
        var kernel = KernelSettings.Read(ProcFileSystem.Default);
        _connector = new SocketConnector(kernel, ClientPorts.NewConnection, connectDirectly: true);
        _runtimeConnector = new SocketConnector(kernel, ClientPorts.NewConnection, connectDirectly: false);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _kernelSource.Dispose();
        _fourSources.Dispose();
        _server.Dispose();
    }

    [Benchmark(Baseline = true, Description = "floor: Socket.ConnectAsync + RST close")]
    public ValueTask RawConnect() => ConnectOnce.RawAsync(_destination);

    [Benchmark(Description = "SocketConnector via runtime ConnectAsync (internal)")]
    public ValueTask ConnectorThroughRuntime() => ConnectOnce.ConnectorAsync(_runtimeConnector, _destination);

    [Benchmark(Description = "SocketConnector, direct connect (internal)")]
    public ValueTask ConnectorOnly() => ConnectOnce.ConnectorAsync(_connector, _destination);

    [Benchmark(Description = "SocketPool new connection, kernel-chosen source")]
    public ValueTask PoolKernelSource() => ConnectOnce.PoolAsync(_kernelSource, _destination);

    [Benchmark(Description = "SocketPool new connection, 4 sources")]
    public ValueTask PoolFourSources() => ConnectOnce.PoolAsync(_fourSources, _destination);
}
