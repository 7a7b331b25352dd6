using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Time.Testing;
using OpenTelemetry.Metrics;
using TuplePool.Telemetry;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// The pool-wide totals, collected by a real OpenTelemetry SDK from a pool on loopback: exact
/// (the leases made, the snapshot's sums), the NAT's ledger beside them, and one read of the
/// pool's state per collection — the totals without a snapshot, or one snapshot at
/// <see cref="MetricDetail.Tuple"/> — whatever the number of instruments.
/// </summary>
[Collection(OpenTelemetrySdkCollection.Name)]
public sealed class PoolTotalsTests
{
    private readonly string _pool = $"totals-{Guid.NewGuid():N}";
    private readonly FakeTimeProvider _time = new(); // charges and NAT holds stay put while the test reads them

    private SocketPool CreateSut(int sources, int ports, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions { SourceAddresses = TestSources.Take(sources), LocalPortRange = PortSlices.Next(ports), PoolName = _pool };
        configure?.Invoke(options);
        return new SocketPool(options, _time);
    }

    private long Value(IReadOnlyList<MetricSnapshot> metrics, string name, string? state = null)
    {
        var points = metrics.Of(name, _pool).Where(p => state is null || p.Tag("tuplepool.connection.state") as string == state).ToList();
        return Assert.Single(points).Long();
    }

    [Fact]
    public async Task Totals_AreExact_AndTheSnapshotsSums()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(sources: 2, ports: 20);
        using var sdk = new OpenTelemetrySdk();
        var leases = new List<SocketLease>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint));
        }

        leases[0].Dispose();            // idle
        leases[1].Dispose();            // idle
        leases[2].Invalidate();
        leases[2].Dispose();            // closed first by us: a TIME_WAIT charge

        var metrics = sdk.Collect();
        var snapshot = pool.GetSnapshot();

        Assert.Equal(2, Value(metrics, "tuplepool.connection.count", "active"));
        Assert.Equal(2, Value(metrics, "tuplepool.connection.count", "idle"));
        Assert.Equal(2, Value(metrics, "tuplepool.tuple.count"));
        Assert.Equal(1, Value(metrics, "tuplepool.budget.time_wait"));
        Assert.Equal((2 * 20) - 2 - 2 - 1, Value(metrics, "tuplepool.budget.remaining"));
        Assert.Equal(0, Value(metrics, "tuplepool.acquire.pending"));
        Assert.Equal(snapshot.TotalActive, Value(metrics, "tuplepool.connection.count", "active"));
        Assert.Equal(snapshot.TotalIdle, Value(metrics, "tuplepool.connection.count", "idle"));
        Assert.Equal(snapshot.TotalTimeWait, Value(metrics, "tuplepool.budget.time_wait"));
        Assert.Equal(snapshot.Tuples.Sum(t => t.Remaining), Value(metrics, "tuplepool.budget.remaining"));
        Assert.All(new[] { "tuplepool.tuple.count", "tuplepool.budget.time_wait", "tuplepool.budget.remaining" }, name =>
            Assert.Equal(["tuplepool.pool.name"], Assert.Single(metrics.Of(name, _pool)).TagKeys()));
        leases[3].Dispose();
        leases[4].Dispose();
    }

    [Fact]
    public async Task NatTotals_ShowTheNatsLedger()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(sources: 2, ports: 20, o => o.Nat = new NatOptions { PortsPerDestination = 10, Destinations = [IPNetwork.Parse("127.0.0.0/8")] });
        using var sdk = new OpenTelemetrySdk();
        var kept = await pool.AcquireAsync(server.EndPoint);
        var idle = await pool.AcquireAsync(server.EndPoint);
        var closed = await pool.AcquireAsync(server.EndPoint);
        idle.Dispose();
        closed.Invalidate();
        closed.Dispose(); // the NAT holds its port for HoldAfterClose

        var metrics = sdk.Collect();
        var nat = Assert.Single(pool.GetSnapshot().Nat);

        Assert.Equal(2, Value(metrics, "tuplepool.nat.connection.count"));
        Assert.Equal(1, Value(metrics, "tuplepool.nat.holding"));
        Assert.Equal(10 - 3, Value(metrics, "tuplepool.nat.remaining"));
        Assert.Equal((nat.Active, nat.Holding, nat.Remaining), (2, 1, 7));
        kept.Dispose();
    }

    [Fact]
    public async Task ReadTotals_EqualsTheSumsOfASnapshot()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(sources: 2, ports: 10, o => o.Nat = new NatOptions { PortsPerDestination = 5, Destinations = [IPNetwork.Parse("127.0.0.0/8")] });
        var a = await pool.AcquireAsync(server.EndPoint);
        var b = await pool.AcquireAsync(server.EndPoint);
        var c = await pool.AcquireAsync(server.EndPoint);
        b.Dispose();
        c.Invalidate();
        c.Dispose();

        var totals = pool.Destinations.Snapshots.ReadTotals();

        Assert.Equal(PoolTotals.Of(pool.GetSnapshot()), totals);
        Assert.Equal(new PoolTotals(Tuples: 2, Active: 1, Idle: 1, TimeWait: 1, Remaining: 20 - 3, NatActive: 2, NatHolding: 1, NatRemaining: 2), totals);
        a.Dispose();
    }

    [Theory]
    [InlineData(MetricDetail.Pool)]
    [InlineData(MetricDetail.Destination)]
    public async Task EachCollection_ReadsTheTotalsOnce_AndBuildsNoSnapshot(MetricDetail detail)
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(sources: 1, ports: 10, o => o.MetricDetail = detail);
        var lease = await pool.AcquireAsync(server.EndPoint);
        using var sdk = new OpenTelemetrySdk();
        var snapshots = pool.Destinations.Snapshots;
        var (builds, reads) = (snapshots.Builds, snapshots.TotalReads);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(1, Value(sdk.Collect(), "tuplepool.connection.count", "active"));
        }

        Assert.Equal(3, snapshots.TotalReads - reads);
        Assert.Equal(0, snapshots.Builds - builds);
        lease.Dispose();
    }

    [Fact]
    public async Task EachCollection_AtTupleDetail_BuildsOneSnapshot_ForEveryInstrument()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(sources: 1, ports: 10, o => o.MetricDetail = MetricDetail.Tuple);
        var lease = await pool.AcquireAsync(server.EndPoint);
        using var sdk = new OpenTelemetrySdk();
        var snapshots = pool.Destinations.Snapshots;
        var (builds, reads) = (snapshots.Builds, snapshots.TotalReads);

        for (var i = 0; i < 3; i++)
        {
            var metrics = sdk.Collect();
            Assert.Equal(1, Value(metrics, "tuplepool.connection.count", "active"));
            Assert.Equal(1, Assert.Single(metrics.Of("tuplepool.tuple.connection.count", _pool), p => p.Tag("tuplepool.connection.state") as string == "active").Long());
            Assert.Equal(9, Assert.Single(metrics.Of("tuplepool.tuple.remaining", _pool)).Long());
        }

        Assert.Equal(3, snapshots.Builds - builds);
        Assert.Equal(0, snapshots.TotalReads - reads);
        lease.Dispose();
    }

    [Fact]
    public async Task MeterListener_EachRecordObservableInstruments_IsOneRead()
    {
        await using var pool = CreateSut(sources: 1, ports: 10);
        var seen = new Dictionary<string, int>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "TuplePool" && instrument.GetType().Name.StartsWith("Observable", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, _, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "tuplepool.pool.name" && tag.Value as string == _pool)
                {
                    seen[instrument.Name] = seen.GetValueOrDefault(instrument.Name) + 1;
                }
            }
        });
        listener.Start();
        var snapshots = pool.Destinations.Snapshots;
        var reads = snapshots.TotalReads;

        listener.RecordObservableInstruments();
        listener.RecordObservableInstruments();

        Assert.Equal(2, snapshots.TotalReads - reads);
        Assert.Equal(4, seen.Count(s => s.Key is "tuplepool.tuple.count" or "tuplepool.budget.time_wait" or "tuplepool.budget.remaining" or "tuplepool.connection.count"));
    }
}
