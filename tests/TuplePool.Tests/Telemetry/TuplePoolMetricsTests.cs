using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Telemetry;

/// <summary>The TuplePool meter's instruments move with real loopback connections.</summary>
public sealed class TuplePoolMetricsTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public void Dispose() => _services.Dispose();

    private SocketPool CreateSut(int sources, int ports, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions { SourceAddresses = TestSources.Take(sources), LocalPortRange = PortSlices.Next(ports), AcquireTimeout = TimeSpan.FromMilliseconds(200) };
        configure?.Invoke(options);
        return new SocketPool(options, null, null, MeterFactory);
    }

    [Fact]
    public async Task ConnectionCount_ReportsActiveAndIdlePoolWide_WithThePoolNameAlone()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(2, 10, o => o.AcquireTimeout = TimeSpan.FromSeconds(10)); // no refusal wanted: room for a loaded machine
        using var connections = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.connection.count");
        var a = await pool.AcquireAsync(server.EndPoint);
        var b = await pool.AcquireAsync(server.EndPoint);
        var c = await pool.AcquireAsync(server.EndPoint);
        b.Dispose();

        connections.RecordObservableInstruments();
        var measured = connections.GetMeasurementSnapshot();

        Assert.Equal(2, measured.Count);
        Assert.Equal(2, measured.Single(m => (string?)m.Tags["tuplepool.connection.state"] == "active").Value);
        Assert.Equal(1, measured.Single(m => (string?)m.Tags["tuplepool.connection.state"] == "idle").Value);
        Assert.All(measured, m => Assert.Equal(["tuplepool.connection.state", "tuplepool.pool.name"], m.Tags.Keys.Order()));
        Assert.All(measured, m => Assert.Equal("default", m.Tags["tuplepool.pool.name"]));
        a.Dispose();
        c.Dispose();
    }

    [Fact]
    public async Task TupleConnectionCount_AtTupleDetail_ReportsActiveAndIdlePerTuple()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 10, o => (o.MetricDetail, o.AcquireTimeout) = (MetricDetail.Tuple, TimeSpan.FromSeconds(10)));
        using var connections = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.tuple.connection.count");
        var a = await pool.AcquireAsync(server.EndPoint);
        var b = await pool.AcquireAsync(server.EndPoint);
        b.Dispose();

        connections.RecordObservableInstruments();
        var measured = connections.GetMeasurementSnapshot();

        Assert.Equal(1, measured.Single(m => (string?)m.Tags["tuplepool.connection.state"] == "active").Value);
        Assert.Equal(1, measured.Single(m => (string?)m.Tags["tuplepool.connection.state"] == "idle").Value);
        Assert.All(measured, m =>
        {
            Assert.Equal("default", m.Tags["tuplepool.pool.name"]);
            Assert.Equal("127.0.0.2", m.Tags["network.local.address"]);
            Assert.Equal("127.0.0.1", m.Tags["network.peer.address"]);
            Assert.Equal("127.0.0.1", m.Tags["server.address"]);
            Assert.Equal(server.EndPoint.Port, Assert.IsType<int>(m.Tags["server.port"]));
        });
        a.Dispose();
    }

    // Name, unit, the least detail it exists at, whether only with a NAT.
    private static readonly (string Name, string Unit, MetricDetail From, bool NatOnly)[] s_instruments =
    [
        ("tuplepool.connection.count", "{connection}", MetricDetail.Pool, false),
        ("tuplepool.tuple.count", "{tuple}", MetricDetail.Pool, false),
        ("tuplepool.budget.time_wait", "{port}", MetricDetail.Pool, false),
        ("tuplepool.budget.remaining", "{port}", MetricDetail.Pool, false),
        ("tuplepool.acquire.pending", "{request}", MetricDetail.Pool, false),
        ("tuplepool.acquire.duration", "s", MetricDetail.Pool, false),
        ("tuplepool.acquire.wait_duration", "s", MetricDetail.Pool, false),
        ("tuplepool.connection.use_time", "s", MetricDetail.Pool, false),
        ("tuplepool.connect.duration", "s", MetricDetail.Pool, false),
        ("tuplepool.connect.errors", "{error}", MetricDetail.Pool, false),
        ("tuplepool.budget.exhausted", "{acquire}", MetricDetail.Pool, false),
        ("tuplepool.nat.connection.count", "{connection}", MetricDetail.Pool, true),
        ("tuplepool.nat.holding", "{port}", MetricDetail.Pool, true),
        ("tuplepool.nat.remaining", "{port}", MetricDetail.Pool, true),
        ("tuplepool.tuple.connection.count", "{connection}", MetricDetail.Tuple, false),
        ("tuplepool.tuple.time_wait", "{port}", MetricDetail.Tuple, false),
        ("tuplepool.tuple.remaining", "{port}", MetricDetail.Tuple, false),
    ];

    public static TheoryData<string, string, MetricDetail, bool> Instruments
    {
        get
        {
            var data = new TheoryData<string, string, MetricDetail, bool>();
            foreach (var (name, unit, from, natOnly) in s_instruments)
            {
                data.Add(name, unit, from, natOnly);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Instruments))]
    public async Task Instrument_HasItsDocumentedUnit_AndExistsFromItsDetailOn(string name, string unit, MetricDetail from, bool natOnly)
    {
        foreach (var detail in Enum.GetValues<MetricDetail>())
        {
            foreach (var nat in new[] { false, true })
            {
                // A factory of its own: a factory hands out one meter per name, with every pool's instruments on it.
                await using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
                var factory = services.GetRequiredService<IMeterFactory>();
                var options = new TuplePoolOptions { SourceAddresses = TestSources.Take(1), MetricDetail = detail, Nat = nat ? new NatOptions { PortsPerDestination = 10 } : null };
                await using var pool = new SocketPool(options, null, null, factory);
                var units = PublishedUnits(factory);

                Assert.Equal(s_instruments.Count(i => i.From <= detail && (nat || !i.NatOnly)), units.Count);
                if (detail >= from && (nat || !natOnly))
                {
                    Assert.Equal(unit, units[name]);
                }
                else
                {
                    Assert.DoesNotContain(name, units.Keys);
                }
            }
        }
    }

    private static Dictionary<string, string?> PublishedUnits(IMeterFactory factory)
    {
        var units = new Dictionary<string, string?>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, _) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory))
                {
                    units[instrument.Name] = instrument.Unit;
                }
            },
        };
        listener.Start();
        return units;
    }

    [Fact]
    public async Task TimeWaitAndRemaining_MoveWithGracefulCloses_PoolWideAndPerTuple()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 10, o => (o.MetricDetail, o.AcquireTimeout) = (MetricDetail.Tuple, TimeSpan.FromSeconds(10)));
        using var timeWait = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.budget.time_wait");
        using var remaining = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.budget.remaining");
        using var tupleTimeWait = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.tuple.time_wait");
        using var tupleRemaining = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.tuple.remaining");
        var lease = await pool.AcquireAsync(server.EndPoint);
        lease.Invalidate();
        lease.Dispose();

        foreach (var collector in new[] { timeWait, remaining, tupleTimeWait, tupleRemaining })
        {
            collector.RecordObservableInstruments();
        }

        Assert.Equal(1, timeWait.LastMeasurement!.Value);
        Assert.Equal(9, remaining.LastMeasurement!.Value);
        Assert.All([timeWait.LastMeasurement, remaining.LastMeasurement], m => Assert.Equal(["tuplepool.pool.name"], m.Tags.Keys));
        Assert.Equal(1, tupleTimeWait.LastMeasurement!.Value);
        Assert.Equal(9, tupleRemaining.LastMeasurement!.Value);
        Assert.All([tupleTimeWait.LastMeasurement, tupleRemaining.LastMeasurement], m =>
        {
            Assert.Equal("default", m.Tags["tuplepool.pool.name"]);
            Assert.Equal("127.0.0.2", m.Tags["network.local.address"]);
            Assert.Equal("127.0.0.1", m.Tags["network.peer.address"]);
            Assert.Equal(server.EndPoint.Port, Assert.IsType<int>(m.Tags["server.port"]));
        });
    }

    [Fact]
    public async Task AcquireConnectAndExhaustion_AreRecorded()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(1, 2);
        using var acquire = new MetricCollector<double>(MeterFactory, "TuplePool", "tuplepool.acquire.duration");
        using var connect = new MetricCollector<double>(MeterFactory, "TuplePool", "tuplepool.connect.duration");
        using var exhausted = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.budget.exhausted");

        var first = await pool.AcquireAsync(server.EndPoint);
        first.Dispose();
        var reused = await pool.AcquireAsync(server.EndPoint);
        var second = await pool.AcquireAsync(server.EndPoint);
        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.Equal(2, connect.GetMeasurementSnapshot().Count);
        Assert.All(connect.GetMeasurementSnapshot(), m => Assert.Equal(["tuplepool.pool.name"], m.Tags.Keys)); // no tuple tags below MetricDetail.Tuple
        Assert.All(connect.GetMeasurementSnapshot(), m => Assert.Equal("default", m.Tags["tuplepool.pool.name"]));
        Assert.All(acquire.GetMeasurementSnapshot(), m => Assert.Equal("default", m.Tags["tuplepool.pool.name"]));
        var acquires = acquire.GetMeasurementSnapshot().Where(m => !m.Tags.ContainsKey("error.type")).ToList(); // the refused one is there too, with error.type
        Assert.Equal(3, acquires.Count);
        Assert.Equal(1, acquires.Count(m => (bool?)m.Tags["tuplepool.connection.reused"] == true));
        Assert.All(acquires, m => Assert.True(m.Value >= 0));
        var exhaustion = Assert.Single(exhausted.GetMeasurementSnapshot());
        Assert.Equal(server.EndPoint.Port, Assert.IsType<int>(exhaustion.Tags["server.port"]));
        Assert.Equal("127.0.0.1", exhaustion.Tags["server.address"]);
        Assert.Equal("default", exhaustion.Tags["tuplepool.pool.name"]);
        reused.Dispose();
        second.Dispose();
    }

    [Theory]
    [InlineData(MetricDetail.Destination)]
    [InlineData(MetricDetail.Tuple)]
    public async Task ConnectErrors_CountRefusedConnectsByErrorType_TupleTagsOnlyAtTupleDetail(MetricDetail detail)
    {
        using var notListening = ListenerPorts.BindListener(IPAddress.Loopback);
        await using var pool = CreateSut(1, 10, o => (o.MetricDetail, o.AcquireTimeout) = (detail, TimeSpan.FromSeconds(10)));
        using var errors = new MetricCollector<long>(MeterFactory, "TuplePool", "tuplepool.connect.errors");

        await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => pool.AcquireAsync(notListening.LocalEndPoint!).AsTask());

        var error = Assert.Single(errors.GetMeasurementSnapshot());
        Assert.Equal("connection_refused", error.Tags["error.type"]);
        Assert.Equal("default", error.Tags["tuplepool.pool.name"]);
        if (detail == MetricDetail.Tuple)
        {
            Assert.Equal("127.0.0.2", error.Tags["network.local.address"]);
            Assert.Equal("127.0.0.1", error.Tags["network.peer.address"]);
            Assert.Equal(((IPEndPoint)notListening.LocalEndPoint!).Port, Assert.IsType<int>(error.Tags["server.port"]));
        }
        else
        {
            Assert.Equal(["error.type", "tuplepool.pool.name"], error.Tags.Keys.Order());
        }
    }

    [Theory]
    [InlineData(null, "default")]
    [InlineData("replicas", "replicas")]
    public async Task PoolName_FromTheDIKey_OnEveryTupleSeries(string? key, string expected)
    {
        await using var server = new LoopbackServer();
        var services = new ServiceCollection().AddMetrics();
        void Configure(TuplePoolOptions o)
        {
            o.SourceAddresses = TestSources.Take(1);
            o.LocalPortRange = PortSlices.Next(5);
        }

        if (key is null)
        {
            services.AddTuplePool(Configure);
        }
        else
        {
            services.AddTuplePool(key, Configure);
        }

        await using var provider = services.BuildServiceProvider();
        var pool = key is null ? provider.GetRequiredService<ISocketPool>() : provider.GetRequiredKeyedService<ISocketPool>(key);
        using var connections = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), "TuplePool", "tuplepool.connection.count");
        using var connect = new MetricCollector<double>(provider.GetRequiredService<IMeterFactory>(), "TuplePool", "tuplepool.connect.duration");
        var lease = await pool.AcquireAsync(server.EndPoint);

        connections.RecordObservableInstruments();

        Assert.NotEmpty(connections.GetMeasurementSnapshot());
        Assert.All(connections.GetMeasurementSnapshot(), m => Assert.Equal(expected, m.Tags["tuplepool.pool.name"]));
        Assert.Equal(expected, Assert.Single(connect.GetMeasurementSnapshot()).Tags["tuplepool.pool.name"]);
        lease.Dispose();
    }
}
