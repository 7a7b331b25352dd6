using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// What the reaper's sweep lets go of: a destination left empty, one whose connects were refused,
/// a name that never resolves, each with its snapshot lines and metric series; and that the
/// reaper keeps running when a destination arrives just as it stops. Real loopback sockets in the
/// test's own port slice (<see cref="LoopbackPool"/>), a fake clock.
/// </summary>
public sealed class SocketPoolReaperTests
{
    private static SocketPool CreateSut(
        TimeProvider time,
        int capacity = 10,
        Action<TuplePoolOptions>? configure = null,
        IMeterFactory? meterFactory = null,
        Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? dnsLookup = null)
        => LoopbackPool.Create(time, capacity, CloseMode.Abortive, configure, meterFactory: meterFactory, dnsLookup: dnsLookup);

    [Fact]
    public async Task Eviction_ADestinationLeftEmpty_DisappearsFromSnapshots()
    {
        // A destination with nothing left goes, ledgers and all, rather than staying in every snapshot for good.
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, configure: o => o.IdleTimeout = TimeSpan.FromSeconds(10));
        (await pool.AcquireAsync(server.EndPoint)).Dispose();
        Assert.Single(pool.GetSnapshot().Tuples);

        for (var i = 0; i < 200; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1)); // the idle socket expires, then the empty destination
        }

        Assert.Empty(pool.GetSnapshot().Tuples);
        await using var again = await pool.AcquireAsync(server.EndPoint); // and it comes back on demand
        Assert.False(again.IsReused);
        Assert.Single(pool.GetSnapshot().Tuples);
    }

    [Fact]
    public async Task Eviction_ARefusedDestination_DisappearsFromSnapshots()
    {
        var time = new FakeTimeProvider();
        using var probe = ListenerPorts.BindListener(IPAddress.Loopback); // bound, never listening: refused
        var refused = (IPEndPoint)probe.LocalEndPoint!;
        await using var pool = CreateSut(time);
        await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(refused).AsTask());
        Assert.Empty(pool.GetSnapshot().Tuples); // a refused connect holds nothing on its tuple
        Assert.NotNull(pool.Destinations.Find(refused));

        for (var i = 0; i < 200; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Null(pool.Destinations.Find(refused)); // and the destination goes after its retention
    }

    [Fact]
    public async Task Eviction_ANameThatNeverResolves_IsDroppedWithEverythingItLeft()
    {
        var time = new FakeTimeProvider();
        var lookups = 0;
        await using var pool = CreateSut(time, dnsLookup: (_, _, _) =>
        {
            Interlocked.Increment(ref lookups);
            return Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound));
        });
        var name = new DnsEndPoint("nowhere.example", 5432);

        var first = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(name).AsTask());
        var second = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(name).AsTask());

        // a typed error naming the host, not a raw one per caller.
        Assert.Equal(SocketError.HostNotFound, first.SocketErrorCode);
        Assert.Contains("'nowhere.example'", first.Message, StringComparison.Ordinal);
        Assert.Equal(first.Message, second.Message);
        Assert.Equal(1, lookups); // remembered briefly
        Assert.Equal(1, pool.Destinations.Count);

        for (var i = 0; i < 200; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal(0, pool.Destinations.Count);
        Assert.False(pool.IsReaperRunning); // nothing left: the timer stops
    }

    [Fact]
    public async Task Eviction_TheDestinationsPendingSeriesStops()
    {
        // snapshots and metrics stop showing a destination that is gone.
        var time = new FakeTimeProvider();
        using var meters = new SingleMeterFactory();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 1, meterFactory: meters);
        using var pending = new MetricCollector<long>(meters.Meter!, "tuplepool.acquire.pending");
        var held = await pool.AcquireAsync(server.EndPoint);
        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);

        pending.RecordObservableInstruments();
        var seen = Assert.Single(pending.GetMeasurementSnapshot());
        Assert.Equal(1, seen.Value);
        Assert.Equal(server.EndPoint.Port, seen.Tags["server.port"]);

        held.Dispose();
        var lease = await waiting;
        lease.Invalidate();
        lease.Dispose();
        for (var i = 0; i < 200; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
        }

        pending.Clear();
        pending.RecordObservableInstruments();
        Assert.Empty(pending.GetMeasurementSnapshot());
        Assert.Empty(pool.GetSnapshot().Tuples);
    }

    [Fact]
    public async Task ReaperStopping_ADestinationAddedAtThatMoment_KeepsItRunning()
    {
        // The stop clears its flag, then looks again: a destination added between the two keeps
        // the reaper running. (The clear is an interlocked exchange: a plain store could be passed
        // by the loads of that second look.)
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time);
        Assert.False(pool.IsReaperRunning);
        SocketLease? lease = null;
        pool.Reaper.BeforeSecondLook = () =>
        {
            pool.Reaper.BeforeSecondLook = null;
            lease = pool.AcquireAsync(server.EndPoint).AsTask().GetAwaiter().GetResult();
        };

        pool.Reaper.Sweep(); // nothing left: it stops, and the hook adds a destination right then

        Assert.NotNull(lease);
        Assert.True(pool.IsReaperRunning);
        lease.Value.Dispose();
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, pool.GetSnapshot().TotalIdle); // and the clock it keeps goes on
    }
}
