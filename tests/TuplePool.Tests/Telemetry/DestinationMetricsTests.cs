using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using TuplePool.Telemetry;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// The per-destination recorder on its own: what the pool's acquire, wait, lend and return paths
/// record through it, with which tags, and that a destination's series stop when it goes.
/// </summary>
public sealed class DestinationMetricsTests : IDisposable
{
    private static readonly IPEndPoint Backend = new(IPAddress.Loopback, 7000); // never connected to: tags only
    private static readonly DnsEndPoint Named = new("backend.example", 7443);

    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private TuplePoolSnapshot _snapshot = new([]);

    private IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public void Dispose() => _services.Dispose();

    private TuplePoolMetrics CreateSut(string poolName = "replicas", TimeSpan? acquireTimeout = null, MetricDetail detail = MetricDetail.Destination)
    {
        var metrics = new TuplePoolMetrics(MeterFactory, new TuplePoolOptions { PoolName = poolName, AcquireTimeout = acquireTimeout ?? TimeSpan.FromSeconds(2), MetricDetail = detail });
        metrics.Observe(() => _snapshot);
        return metrics;
    }

    private MetricCollector<T> Collect<T>(string instrument)
        where T : struct
        => new(MeterFactory, TuplePoolMetrics.MeterName, instrument);

    private static void AssertDestination(CollectedMeasurement<double> m, string address, int port)
    {
        Assert.Equal("replicas", m.Tags["tuplepool.pool.name"]);
        Assert.Equal(address, m.Tags["server.address"]);
        Assert.Equal(port, Assert.IsType<int>(m.Tags["server.port"]));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void RecordAcquire_Lease_DurationWithServerTagsAndReused(bool reused)
    {
        using var sut = CreateSut();
        using var acquire = Collect<double>("tuplepool.acquire.duration");
        var destination = sut.ForDestination(Named);

        destination.RecordAcquire(TimeSpan.FromMilliseconds(250), reused);

        var m = Assert.Single(acquire.GetMeasurementSnapshot());
        Assert.Equal(0.25, m.Value);
        AssertDestination(m, "backend.example", 7443);
        Assert.Equal(reused, Assert.IsType<bool>(m.Tags["tuplepool.connection.reused"]));
        Assert.False(m.Tags.ContainsKey("error.type"));
    }

    public static TheoryData<string, double, string> Failures => new()
    {
        // The exception, how long the acquire ran (AcquireTimeout is 2 s), the error.type.
        { "exhausted", 2.0, "timeout" },
        { "exhausted", 2.5, "timeout" },
        { "exhausted", 0.001, "budget_exhausted" },
        { "canceled", 0.5, "canceled" },
        { "task_canceled", 0.5, "canceled" },
        { "refused", 0.01, "connection_refused" },
        { "timed_out", 10, "timed_out" },
        { "unreachable", 0.01, "network_unreachable" },
        { "disposed", 0.01, "pool_disposed" },
        { "other", 0.01, "System.InvalidOperationException" },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void RecordAcquireFailed_EachFailure_DurationWithErrorType(string failure, double seconds, string errorType)
    {
        using var sut = CreateSut();
        using var acquire = Collect<double>("tuplepool.acquire.duration");
        var destination = sut.ForDestination(Backend);
        Exception error = failure switch
        {
            "exhausted" => new TupleBudgetExhaustedException(Backend, []),
            "canceled" => new OperationCanceledException(),
            "task_canceled" => new TaskCanceledException(),
            "refused" => new SocketException((int)SocketError.ConnectionRefused),
            "timed_out" => new SocketException((int)SocketError.TimedOut),
            "unreachable" => new SocketException((int)SocketError.NetworkUnreachable),
            "disposed" => new ObjectDisposedException(nameof(SocketPool)),
            _ => new InvalidOperationException(),
        };

        destination.RecordAcquireFailed(TimeSpan.FromSeconds(seconds), error);

        var m = Assert.Single(acquire.GetMeasurementSnapshot());
        Assert.Equal(seconds, m.Value);
        AssertDestination(m, "127.0.0.1", 7000);
        Assert.Equal(errorType, m.Tags["error.type"]);
        Assert.False(m.Tags.ContainsKey("tuplepool.connection.reused"));
    }

    [Fact]
    public void RecordAcquireFailed_InfiniteAcquireTimeout_ExhaustionIsNeverATimeout()
    {
        using var sut = CreateSut(acquireTimeout: Timeout.InfiniteTimeSpan);
        using var acquire = Collect<double>("tuplepool.acquire.duration");

        sut.ForDestination(Backend).RecordAcquireFailed(TimeSpan.FromHours(1), new TupleBudgetExhaustedException(Backend, []));

        Assert.Equal("budget_exhausted", Assert.Single(acquire.GetMeasurementSnapshot()).Tags["error.type"]);
    }

    [Fact]
    public void RecordWait_WaitDurationWithServerTags()
    {
        using var sut = CreateSut();
        using var wait = Collect<double>("tuplepool.acquire.wait_duration");

        sut.ForDestination(Backend).RecordWait(TimeSpan.FromSeconds(1.5));

        var m = Assert.Single(wait.GetMeasurementSnapshot());
        Assert.Equal(1.5, m.Value);
        AssertDestination(m, "127.0.0.1", 7000);
    }

    [Fact]
    public void RecordUseTime_UseTimeWithServerTags_EnabledOnlyWhileListened()
    {
        using var sut = CreateSut();
        var destination = sut.ForDestination(Named);
        Assert.False(destination.UseTimeEnabled);

        using var useTime = Collect<double>("tuplepool.connection.use_time");
        Assert.True(destination.UseTimeEnabled);
        destination.RecordUseTime(TimeSpan.FromSeconds(3));

        var m = Assert.Single(useTime.GetMeasurementSnapshot());
        Assert.Equal(3, m.Value);
        AssertDestination(m, "backend.example", 7443);
    }

    [Fact]
    public void RecordExhausted_CounterWithServerTags()
    {
        using var sut = CreateSut();
        using var exhausted = Collect<long>("tuplepool.budget.exhausted");

        sut.ForDestination(Named).RecordExhausted();

        var m = Assert.Single(exhausted.GetMeasurementSnapshot());
        Assert.Equal(1, m.Value);
        Assert.Equal("replicas", m.Tags["tuplepool.pool.name"]);
        Assert.Equal("backend.example", m.Tags["server.address"]);
        Assert.Equal(7443, Assert.IsType<int>(m.Tags["server.port"]));
    }

    [Fact]
    public void Pending_ReadFromEachDestinationOnCollect_AndDropsWhenItIsDisposed()
    {
        using var sut = CreateSut();
        using var pending = Collect<long>("tuplepool.acquire.pending");
        var waiting = 3;
        var backend = sut.ForDestination(Backend, () => waiting);
        var named = sut.ForDestination(Named, () => 0);

        pending.RecordObservableInstruments();
        var first = pending.GetMeasurementSnapshot(clear: true);
        waiting = 1;
        backend.Dispose();
        pending.RecordObservableInstruments();
        var second = pending.GetMeasurementSnapshot(clear: true);

        Assert.Equal(2, first.Count);
        var backendSeries = Assert.Single(first, m => (string?)m.Tags["server.address"] == "127.0.0.1");
        Assert.Equal(3, backendSeries.Value);
        Assert.Equal(7000, Assert.IsType<int>(backendSeries.Tags["server.port"]));
        Assert.Equal("replicas", backendSeries.Tags["tuplepool.pool.name"]);
        var left = Assert.Single(second);
        Assert.Equal("backend.example", left.Tags["server.address"]);
        Assert.Equal(0, left.Value);
        named.Dispose();
    }

    [Fact]
    public void TupleSeries_TupleGoneFromTheSnapshot_NoLongerReported()
    {
        // The observables are computed from the snapshot on each collection, so a tuple that the
        // pool drops (destination evicted) drops out of every series without further bookkeeping.
        using var sut = CreateSut(detail: MetricDetail.Tuple);
        using var connections = Collect<long>("tuplepool.tuple.connection.count");
        using var timeWait = Collect<long>("tuplepool.tuple.time_wait");
        using var remaining = Collect<long>("tuplepool.tuple.remaining");
        var kept = new TupleUsage(IPAddress.Parse("127.0.0.2"), Backend, 100, 1, 2, 3, 94);
        var gone = new TupleUsage(IPAddress.Parse("127.0.0.3"), Backend, 100, 0, 0, 0, 100);
        _snapshot = new TuplePoolSnapshot([kept, gone]);

        connections.RecordObservableInstruments();
        timeWait.RecordObservableInstruments();
        remaining.RecordObservableInstruments();
        Assert.Equal(4, connections.GetMeasurementSnapshot(clear: true).Count);
        Assert.Equal(2, timeWait.GetMeasurementSnapshot(clear: true).Count);
        Assert.Equal(2, remaining.GetMeasurementSnapshot(clear: true).Count);

        _snapshot = new TuplePoolSnapshot([kept]);
        connections.RecordObservableInstruments();
        timeWait.RecordObservableInstruments();
        remaining.RecordObservableInstruments();

        Assert.All(connections.GetMeasurementSnapshot(), m => Assert.Equal("127.0.0.2", m.Tags["network.local.address"]));
        Assert.Equal([1L, 2L], connections.GetMeasurementSnapshot().Select(m => m.Value));
        Assert.Equal(3, Assert.Single(timeWait.GetMeasurementSnapshot()).Value);
        Assert.Equal(94, Assert.Single(remaining.GetMeasurementSnapshot()).Value);
    }

    [Fact]
    public void Dispose_Pool_PendingSeriesOfEveryDestinationStop()
    {
        var sut = CreateSut();
        using var pending = Collect<long>("tuplepool.acquire.pending");
        sut.ForDestination(Backend, () => 2);

        sut.Dispose();
        pending.RecordObservableInstruments();

        Assert.Empty(pending.GetMeasurementSnapshot());
    }

    [Fact]
    public void PoolDetail_EveryDestinationInstrument_CarriesThePoolNameAlone()
    {
        using var sut = CreateSut(detail: MetricDetail.Pool);
        using var acquire = Collect<double>("tuplepool.acquire.duration");
        using var wait = Collect<double>("tuplepool.acquire.wait_duration");
        using var useTime = Collect<double>("tuplepool.connection.use_time");
        using var exhausted = Collect<long>("tuplepool.budget.exhausted");
        var destination = sut.ForDestination(Named);

        destination.RecordAcquire(TimeSpan.FromMilliseconds(1), reused: true);
        destination.RecordAcquireFailed(TimeSpan.FromSeconds(2), new TupleBudgetExhaustedException(Named, []));
        destination.RecordWait(TimeSpan.FromSeconds(1));
        destination.RecordUseTime(TimeSpan.FromSeconds(1));
        destination.RecordExhausted();
        sut.RecordExhausted("127.0.0.1", 7000);

        var acquires = acquire.GetMeasurementSnapshot();
        Assert.Equal(["tuplepool.connection.reused", "tuplepool.pool.name"], acquires[0].Tags.Keys.Order());
        Assert.Equal(["error.type", "tuplepool.pool.name"], acquires[1].Tags.Keys.Order());
        Assert.Equal(["tuplepool.pool.name"], Assert.Single(wait.GetMeasurementSnapshot()).Tags.Keys);
        Assert.Equal(["tuplepool.pool.name"], Assert.Single(useTime.GetMeasurementSnapshot()).Tags.Keys);
        Assert.All(exhausted.GetMeasurementSnapshot(), m => Assert.Equal(["tuplepool.pool.name"], m.Tags.Keys));
        Assert.Equal(2, exhausted.GetMeasurementSnapshot().Count);
    }

    [Fact]
    public void PoolDetail_Pending_IsOneSeries_TheSumOverDestinations()
    {
        using var sut = CreateSut(detail: MetricDetail.Pool);
        using var pending = Collect<long>("tuplepool.acquire.pending");
        sut.ForDestination(Backend, () => 3);
        sut.ForDestination(Named, () => 2);

        pending.RecordObservableInstruments();

        var m = Assert.Single(pending.GetMeasurementSnapshot());
        Assert.Equal(5, m.Value);
        Assert.Equal(["tuplepool.pool.name"], m.Tags.Keys);
    }

    [Fact]
    public void Dispose_OnAFactorysSharedMeter_TotalsStopAndThePoolsStateIsLetGo()
    {
        // The factory's meter outlives the pool (and is shared with the pools made after it).
        var sut = new TuplePoolMetrics(MeterFactory, new TuplePoolOptions { PoolName = "replicas" });
        var reads = 0;
        sut.Observe(() => _snapshot, () => { reads++; return default; });
        using var connections = Collect<long>("tuplepool.connection.count");
        using var remaining = Collect<long>("tuplepool.budget.remaining");

        sut.Dispose();
        connections.RecordObservableInstruments();
        remaining.RecordObservableInstruments();

        Assert.Empty(connections.GetMeasurementSnapshot());
        Assert.Empty(remaining.GetMeasurementSnapshot());
        Assert.Equal(0, reads);
    }
}
