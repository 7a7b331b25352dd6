using System.Diagnostics.Metrics;
using System.Net;
using BenchmarkDotNet.Attributes;
using StackExchange.Redis;
using TuplePool.Redis;
using TuplePool.Redis.Grants;
using TuplePool.Redis.Store;
using TuplePool.TestServers;

namespace TuplePool.Benchmarks;

/// <summary>
/// What the fleet costs, against a redis-server of its own on loopback (the Debian package; the
/// benchmark fails at setup without it):
/// <list type="bullet">
/// <item><see cref="Refill"/> (baseline): one grant refill, one Lua script round trip asking for
/// a chunk, with <see cref="OtherInstances"/> other records in the destination's hash.</item>
/// <item><see cref="LocalGrant"/>: what the pool pays per new connection while the grant has room:
/// <c>GetGrant</c> and <c>Report</c>, no Redis.</item>
/// <item><see cref="ConnectionsThroughTheFleet"/>: a pool opening <see cref="Connections"/>
/// connections to a fresh destination through the budget, every one waiting for its grant,
/// refills (ahead of need or while waiting) included; time per connection, so the refill's cost
/// amortised over a chunk. The requests it sent per chunk of connections are printed at the end
/// of the run (one refill per chunk is the design).</item>
/// </list>
/// </summary>
[MemoryDiagnoser]
public class FleetGrantBenchmark
{
    private const int Connections = 1024;
    private const int Capacity = 1 << 20;

    private RedisServer _server = null!;
    private ConnectionMultiplexer _redis = null!;
    private RedisGrantStore _store = null!;
    private GrantKeys _refillKeys;
    private RedisFleetBudget _budget = null!;
    private IDisposable _registration = null!;
    private MeterListener _requests = null!;
    private IPEndPoint _roomy = null!;
    private int _roomyHeld;
    private int _nextPort;
    private long _sequence;
    private long _requestCount;
    private long _connectionsOpened;
    private TaskCompletionSource _grantChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    [Params(16, 64)]
    public int Chunk { get; set; }

    [Params(0, 49)]
    public int OtherInstances { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _server = RedisServer.StartAsync().GetAwaiter().GetResult();
        _redis = _server.ConnectAsync("fleet-benchmark").GetAwaiter().GetResult();
        var options = Options("bench");
        var context = new FleetContext(FleetShares.Of(Capacity, options), options, TimeSpan.FromSeconds(120), TimeProvider.System);
        _store = new RedisGrantStore(_redis, "bench", context);
        var destination = new IPEndPoint(IPAddress.Parse("198.18.2.1"), 443);
        _refillKeys = new FleetKeys(RedisFleetDefaults.KeyPrefix, options.FleetName).For(destination);
        for (var i = 0; i < OtherInstances; i++)
        {
            var other = new RedisGrantStore(_redis, "other-" + i, context);
            other.SyncAsync(_refillKeys, new GrantRequest(0, Chunk, 0, Interlocked.Increment(ref _sequence))).GetAwaiter().GetResult();
        }

        _requests = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == "TuplePool.Redis" && instrument.Name == "tuplepool.fleet.requests")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _requests.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _requestCount, value));
        _requests.Start();

        // The fleet budget itself, with the pool's side played below; a long lease so renewals
        // do not run during the measurement.
        _budget = new RedisFleetBudget(_redis, Options("pool"));
        _registration = _budget.Attach(
            new NatOptions { PortsPerDestination = Capacity, HoldAfterClose = TimeSpan.FromSeconds(120) },
            _ => _grantChanged.TrySetResult());
        _roomy = new IPEndPoint(IPAddress.Parse("198.18.3.1"), 443);
        OpenAsync(_roomy, Chunk * 4).GetAwaiter().GetResult();
        _roomyHeld = Chunk * 2;
        _budget.Report(_roomy, _roomyHeld, 0);
        _nextPort = 1;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_connectionsOpened > 0)
        {
            var perChunk = (double)Interlocked.Read(ref _requestCount) * Chunk / _connectionsOpened;
            Console.WriteLine($"// FleetGrantBenchmark: {Interlocked.Read(ref _requestCount)} grant requests for {_connectionsOpened} connections, chunk {Chunk}: {perChunk:0.00} requests per chunk of connections");
        }

        _registration.Dispose();
        _budget.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _requests.Dispose();
        _redis.Dispose();
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>One refill: the script grants a chunk (keep 0 resets this instance's record, so every call does the same work).</summary>
    [Benchmark(Baseline = true)]
    public async Task<int> Refill()
        => (await _store.SyncAsync(_refillKeys, new GrantRequest(0, Chunk, 0, Interlocked.Increment(ref _sequence)))).Extra;

    /// <summary>A new connection while the grant has room: read the grant, report one more held, report it released.</summary>
    [Benchmark]
    public int LocalGrant()
    {
        var grant = _budget.GetGrant(_roomy);
        _budget.Report(_roomy, _roomyHeld + 1, 0);
        _budget.Report(_roomy, _roomyHeld, 0);
        return grant;
    }

    /// <summary><see cref="Connections"/> connections to a destination no one used yet, each within the grant; time per connection.</summary>
    [Benchmark(OperationsPerInvoke = Connections)]
    public Task ConnectionsThroughTheFleet()
        => OpenAsync(new IPEndPoint(IPAddress.Parse("198.18.4.1"), _nextPort++), Connections);

    private async Task OpenAsync(IPEndPoint destination, int count)
    {
        for (var held = 0; held < count;)
        {
            var changed = _grantChanged;
            if (held < _budget.GetGrant(destination))
            {
                held++;
                _budget.Report(destination, held, 0);
                continue;
            }

            _budget.Report(destination, held, 1);
            await Task.WhenAny(changed.Task, Task.Delay(50)).ConfigureAwait(false);
            Interlocked.CompareExchange(ref _grantChanged, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously), changed);
        }

        _budget.Report(destination, count, 0);
        _connectionsOpened += count;
    }

    private RedisFleetOptions Options(string instance) => new()
    {
        FleetName = "bench-" + Chunk + "-" + OtherInstances,
        InstanceId = instance,
        ExpectedInstances = OtherInstances + 1,
        StaticShareFraction = 0,
        ChunkSize = Chunk,
        LeaseTime = TimeSpan.FromMinutes(10),
        RecoveryWindow = TimeSpan.Zero,
        WaitRetryInterval = TimeSpan.FromMilliseconds(50),
    };
}
