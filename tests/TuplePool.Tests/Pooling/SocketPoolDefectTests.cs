using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Pooling;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// Situations that once broke the pool, each pinned by the case that shows it.
/// Real loopback sockets in the test's own port slice; a fake clock for everything timed.
/// </summary>
public sealed class SocketPoolDefectTests
{
    private static SocketPool CreateSut(
        TimeProvider time,
        int capacity = 10,
        Action<TuplePoolOptions>? configure = null,
        ISocketConnector? connector = null,
        ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null,
        IKernelCensus? census = null,
        Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? dnsLookup = null)
    {
        // The budget is `capacity` ports; real connects get a wider slice so the real kernel's
        // TIME_WAIT (on a frozen fake clock) never blocks them.
        var slice = PortSlices.Next(100);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(slice.First, slice.First + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(300),
            CloseMode = CloseMode.Abortive,
        };
        configure?.Invoke(options);
        connector ??= new SocketConnector(TestKernel.Create(), slice);
        return new SocketPool(options, time, loggerFactory, meterFactory, connector, census ?? Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0), dnsLookup);
    }

    [Fact]
    public async Task LostWakeUp_ACloseBetweenAFailedSlotAndJoiningTheLine_StillReachesTheWaiter()
    {
        // MaxConnectionsPerDestination = 1, the only connection closes after the
        // second caller failed to take the slot but before it joined the line.
        var time = new HookedTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, configure: o => o.MaxConnectionsPerDestination = 1);
        var first = await pool.AcquireAsync(server.EndPoint);

        // The second acquire reads the clock when its slow path starts, then again after the
        // slot was refused, to work out how long it may wait: close the first connection there.
        time.OnRead(afterReads: 1, () =>
        {
            first.Invalidate();
            first.Dispose();
        });
        var second = pool.AcquireAsync(server.EndPoint).AsTask();

        // The fake clock never moves: a waiter nobody wakes would sleep for good.
        var lease = await second.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(time.HookRan);
        Assert.False(lease.IsReused);
        lease.Dispose();
    }

    [Fact]
    public async Task AcquireAsync_CallerChangesThePortOfItsEndPoint_GetsASocketToTheNewPort()
    {
        // the caller's IPEndPoint is mutable; the pool must not keep or compare it by reference.
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        var destination = new IPEndPoint(IPAddress.Loopback, a.EndPoint.Port);
        (await pool.AcquireAsync(destination)).Dispose(); // leaves an idle socket to A

        destination.Port = b.EndPoint.Port;
        var toB = await pool.AcquireAsync(destination);
        Assert.Equal(b.EndPoint, toB.RemoteEndPoint);
        Assert.False(toB.IsReused);
        toB.Dispose();

        // A's destination kept its key: a fresh IPEndPoint for A finds A's idle socket.
        await using var toA = await pool.AcquireAsync(new IPEndPoint(IPAddress.Loopback, a.EndPoint.Port));
        Assert.True(toA.IsReused);
        Assert.Equal(a.EndPoint, toA.RemoteEndPoint);
    }

    [Fact]
    public async Task AcquireAsync_IPv4MappedDestinationWithIPv4Sources_ConnectsOverIPv4OnOneLedger()
    {
        // ::ffff:127.0.0.1 is 127.0.0.1 to the kernel.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        var mapped = new IPEndPoint(IPAddress.Loopback.MapToIPv6(), server.EndPoint.Port);

        await using (var lease = await pool.AcquireAsync(mapped))
        {
            Assert.Equal(server.EndPoint, lease.RemoteEndPoint);
            Assert.Equal(TestSources.S2, lease.LocalEndPoint.Address);
        }

        await using var plain = await pool.AcquireAsync(server.EndPoint);
        Assert.True(plain.IsReused); // the same destination, so the same idle socket
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(server.EndPoint, usage.Destination);
    }

    [Fact]
    public async Task AcquireAsync_IPv4MappedDestinationWithoutSources_ChargesTheKernelTupleOnce()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), configure: o => o.SourceAddresses = []);
        var mapped = new IPEndPoint(IPAddress.Loopback.MapToIPv6(), server.EndPoint.Port);

        var viaMapped = await pool.AcquireAsync(mapped);
        var viaPlain = await pool.AcquireAsync(server.EndPoint);

        Assert.Equal(server.EndPoint, viaMapped.RemoteEndPoint);
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(IPAddress.Any, usage.Source);
        Assert.Equal(2, usage.Active);
        viaMapped.Dispose();
        viaPlain.Dispose();
    }

    [Fact]
    public async Task Eviction_ADestinationLeftEmpty_DisappearsFromSnapshots()
    {
        // every destination used to stay for good, its ledgers in every snapshot.
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
    public async Task AcquireDurationListenerThrows_TheLeaseIsNotLost()
    {
        // an exception from a metrics listener after the lease existed lost the lease.
        using var meters = new SingleMeterFactory();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), meterFactory: meters);
        using var listener = ThrowingListener(meters, "tuplepool.acquire.duration");

        await Assert.ThrowsAsync<InvalidOperationException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(1, usage.Idle); // returned, not leaked
    }

    [Fact]
    public async Task WaitDurationListenerThrows_TheWaitersConnectionIsNotLost()
    {
        using var meters = new SingleMeterFactory();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), capacity: 1, meterFactory: meters);
        var held = await pool.AcquireAsync(server.EndPoint);
        using var listener = ThrowingListener(meters, "tuplepool.acquire.wait_duration");
        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        Assert.False(waiting.IsCompleted);

        held.Dispose(); // wakes the waiter, whose wait is then recorded

        await Assert.ThrowsAsync<InvalidOperationException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(1, usage.Idle);
    }

    [Fact]
    public async Task ValidateOnAcquireOff_ASocketTheCallerDisposed_IsNotLentAgain()
    {
        // without the poll on acquire, nothing looked at the socket before lending it.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider(), configure: o => o.ValidateOnAcquire = false);
        var lease = await pool.AcquireAsync(server.EndPoint);
        lease.Socket.Dispose(); // misuse: nothing stops it
        lease.Dispose();

        await using var next = await pool.AcquireAsync(server.EndPoint);

        Assert.False(next.IsReused);
        Assert.Equal(0, next.Socket.Available); // a live socket: a disposed one throws here
    }

    [Fact]
    public async Task SeveralWaitersTimingOutTogether_EachGetsTheRealUsage()
    {
        // only the first refused waiter got the usage; the others an empty list and
        // the message "(no source address of the destination's address family ...)".
        var time = new FakeTimeProvider();
        using var logs = new FakeLoggerProvider();
        using var loggerFactory = new LoggerFactory([logs]);
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 1, configure: o => o.AcquireTimeout = TimeSpan.FromSeconds(2), loggerFactory: loggerFactory);
        var held = await pool.AcquireAsync(server.EndPoint);
        var waiters = Enumerable.Range(0, 4).Select(_ => pool.AcquireAsync(server.EndPoint).AsTask()).ToList();
        Assert.All(waiters, w => Assert.False(w.IsCompleted));

        time.Advance(TimeSpan.FromSeconds(2));

        foreach (var waiter in waiters)
        {
            var error = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiter.WaitAsync(TimeSpan.FromSeconds(10)));
            var usage = Assert.Single(error.Usage);
            Assert.Equal(TestSources.S2, usage.Source);
            Assert.Equal(1, usage.Active);
            Assert.Contains("127.0.0.2: 1 active", error.Message, StringComparison.Ordinal);
        }

        // Event 4 is throttled per destination: one line for the four, the next one counts the rest.
        var refusals = logs.Collector.GetSnapshot().Where(r => r.Id.Id == 4).ToList();
        Assert.Contains("127.0.0.2: 1 active", Assert.Single(refusals).Message, StringComparison.Ordinal);
        Assert.Equal(4, pool.GetSnapshot().RefusedAcquires);
        held.Dispose();
    }

    [Fact]
    public async Task IPv6DestinationWithOnlyIPv4Sources_IsAConfigurationErrorNamingTheFamily()
    {
        // this said "exhausted, widen the port range".
        var connector = Substitute.For<ISocketConnector>();
        await using var pool = CreateSut(new FakeTimeProvider(), connector: connector);
        var destination = new IPEndPoint(IPAddress.IPv6Loopback, 20998); // never reached: no source can serve it

        var error = await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(destination).AsTask());

        Assert.IsNotType<TupleBudgetExhaustedException>(error);
        Assert.Equal(SocketError.AddressFamilyNotSupported, error.SocketErrorCode);
        Assert.Contains("no IPv6 source address is configured for [::1]:20998", error.Message, StringComparison.Ordinal);
        Assert.Empty(connector.ReceivedCalls());
    }

    [Fact]
    public void DefaultLease_Stream_SaysTheLeaseWasNeverAcquired()
    {
        var error = Assert.Throws<ObjectDisposedException>(() => default(SocketLease).Stream);

        Assert.Contains("never acquired", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Snapshot_ToString_PrintsEachTuple()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        await using var lease = await pool.AcquireAsync(server.EndPoint);

        var text = pool.GetSnapshot().ToString();

        Assert.Contains($"127.0.0.2 -> {server.EndPoint}: 1 active, 0 idle", text, StringComparison.Ordinal);
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
    public async Task AbandonedLease_OnceCollected_TheReaperFreesItsBudget()
    {
        // a lease never disposed held its ledger and open count for good.
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 1);
        await AcquireAndReturnAsync(pool, server.EndPoint);
        await Task.Yield(); // off the connect's continuation, whose frames still hold the lease
        AbandonAnIdleHit(pool, server.EndPoint);
        Assert.Equal(1, pool.GetSnapshot().TotalActive);

        // The idle hit lent its stripe's resident, which its slot holds while lent: a sweep lets
        // go of it (IdleStore.ReleaseLeasedResidents), and a collection after that finds the lease.
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1)); // at least one sweep
        }

        Assert.Equal(1, pool.GetSnapshot().TotalActive);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1)); // at least one sweep
        }

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(0, usage.Idle);
        Assert.Equal(1, usage.TimeWait); // freed, charged on the safe side
    }

    [Fact]
    public async Task ReaperStopping_ADestinationAddedAtThatMoment_KeepsItRunning()
    {
        // the stop cleared its flag with a plain store, which a later load could pass;
        // now an interlocked exchange. Pinned here: a start in the window is not lost.
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

    [Fact]
    public async Task StaleLeaseCopy_CannotInvalidateTheNextBorrowersLease()
    {
        // the copy checked its token, then set a flag the next lease inherited.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        var first = await pool.AcquireAsync(server.EndPoint);
        var stale = first;
        first.Dispose();
        var next = await pool.AcquireAsync(server.EndPoint);
        Assert.True(next.IsReused);

        Assert.Throws<ObjectDisposedException>(stale.Invalidate);
        next.Dispose();

        Assert.Equal(1, pool.GetSnapshot().TotalIdle); // kept, not closed
        await using var again = await pool.AcquireAsync(server.EndPoint);
        Assert.True(again.IsReused);
    }

    [Fact]
    public void Validate_MulticastAndLimitedBroadcast_AreRejectedUpFront()
    {
        // A pure check: no socket exists here, so nothing can be sent to these addresses.
        var time = TimeProvider.System;
        foreach (var address in new[] { "224.0.0.1", "239.255.255.250", "ff02::1", "255.255.255.255", "0.0.0.0", "::" })
        {
            var error = Assert.Throws<ArgumentException>(() => DestinationKeys.Validate(new IPEndPoint(IPAddress.Parse(address), 80), time));
            Assert.Equal("destination", error.ParamName);
        }

        DestinationKeys.Validate(new IPEndPoint(IPAddress.Loopback, 80), time);
        DestinationKeys.Validate(new IPEndPoint(IPAddress.IPv6Loopback, 80), time);
    }

    [Fact]
    public async Task AcquireAsync_MulticastOrSubnetBroadcast_ThrowsArgumentExceptionAndNeverConnects()
    {
        // accepted, then "Network is unreachable" from the kernel. The connector is a
        // substitute, and ff01::1 is interface-local: no packet could leave the host.
        var connector = Substitute.For<ISocketConnector>();
        await using var pool = CreateSut(new FakeTimeProvider(), configure: o => o.SourceAddresses = [], connector: connector);

        var multicast = await Assert.ThrowsAsync<ArgumentException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Parse("ff01::1"), 80)).AsTask());
        var broadcast = await Assert.ThrowsAsync<ArgumentException>(() => pool.AcquireAsync(new IPEndPoint(IPAddress.Parse("127.255.255.255"), 80)).AsTask());

        Assert.Contains("multicast", multicast.Message, StringComparison.Ordinal);
        Assert.Contains("broadcast address of a subnet of this machine", broadcast.Message, StringComparison.Ordinal);
        Assert.Empty(connector.ReceivedCalls());
        Assert.Equal(0, pool.Destinations.Count);
    }

    [Fact]
    public async Task KernelCountsPortsHeldByOthers_TheUsageAndMessageShowThem()
    {
        // "0 active, 0 idle, 0 TIME_WAIT of 10" for a tuple used by nobody, yet full.
        var time = new FakeTimeProvider();
        var connector = Substitute.For<ISocketConnector>();
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns<ValueTask<Socket>>(_ => throw new SocketException((int)SocketError.AddressNotAvailable));
        var destination = new IPEndPoint(IPAddress.Loopback, 20997); // never reached: the connector is a substitute
        await using var pool = CreateSut(time, capacity: 10, configure: o => o.AcquireTimeout = TimeSpan.FromMilliseconds(500), connector: connector);

        var waiting = pool.AcquireAsync(destination).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        time.Advance(TimeSpan.FromMilliseconds(500));

        var error = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting.WaitAsync(TimeSpan.FromSeconds(10)));
        var usage = Assert.Single(error.Usage);
        Assert.Equal(10, usage.External);
        Assert.Equal(0, usage.Active);
        Assert.Contains("0 active, 0 idle, 0 TIME_WAIT, 10 held by other sockets of 10", error.Message, StringComparison.Ordinal);
        Assert.Contains("held by sockets this pool does not own", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task QuarantineEnds_AWaiterForWhomOnlyTheQuarantinedSourceHasRoom_IsServed()
    {
        // Review: S2 is full, S3 failed to bind and is out for SourceQuarantine. When S3 comes
        // back nothing closed, so nobody woke the waiter: it slept until AcquireTimeout.
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 2, configure: TwoSourcesOneQuarantine, connector: BindFailsOnceFrom(TestSources.S3));
        var held = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) };
        Assert.All(held, l => Assert.Equal(TestSources.S2, l.LocalEndPoint.Address)); // S3 failed the second one's bind
        Assert.Contains(pool.GetSnapshot().Sources, s => s.Address.Equals(TestSources.S2) && !s.IsQuarantined); // S2 is still in: the caller waits instead of failing

        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        time.Advance(TimeSpan.FromSeconds(30));

        await using var lease = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TestSources.S3, lease.LocalEndPoint.Address);
        foreach (var h in held)
        {
            h.Dispose();
        }
    }

    [Fact]
    public async Task QuarantineEnds_WaitersOfEveryDestinationUsingTheFamily_AreServed()
    {
        // One quarantine end, two destinations waiting for it: each must see it, not just the first.
        var time = new FakeTimeProvider();
        await using var a = new LoopbackServer();
        await using var b = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 2, configure: TwoSourcesOneQuarantine, connector: BindFailsOnceFrom(TestSources.S3));
        var held = new List<SocketLease>();
        foreach (var destination in new[] { a.EndPoint, a.EndPoint, b.EndPoint, b.EndPoint })
        {
            held.Add(await pool.AcquireAsync(destination));
        }

        Assert.All(held, l => Assert.Equal(TestSources.S2, l.LocalEndPoint.Address));
        var toA = pool.AcquireAsync(a.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);
        var toB = pool.AcquireAsync(b.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 2);
        time.Advance(TimeSpan.FromSeconds(30));

        await using var leaseA = await toA.WaitAsync(TimeSpan.FromSeconds(10));
        await using var leaseB = await toB.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(TestSources.S3, leaseA.LocalEndPoint.Address);
        Assert.Equal(TestSources.S3, leaseB.LocalEndPoint.Address);
        foreach (var h in held)
        {
            h.Dispose();
        }
    }

    private static void TwoSourcesOneQuarantine(TuplePoolOptions options)
    {
        options.SourceAddresses = TestSources.Take(2);
        options.SourceQuarantine = TimeSpan.FromSeconds(30);
    }

    /// <summary>Real loopback connects, except that the first bind to <paramref name="source"/> fails.</summary>
    private static ISocketConnector BindFailsOnceFrom(IPAddress source)
    {
        var real = FakeConnector.Create();
        var connector = Substitute.For<ISocketConnector>();
        var calls = 0;
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => call.ArgAt<IPAddress>(0).Equals(source) && Interlocked.Increment(ref calls) == 1
                ? throw new SourceBindException(source, new SocketException((int)SocketError.AddressNotAvailable))
                : real.ConnectAsync(call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1), call.ArgAt<CancellationToken>(2)));
        return connector;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task AcquireAndReturnAsync(SocketPool pool, IPEndPoint destination) => (await pool.AcquireAsync(destination)).Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AbandonAnIdleHit(SocketPool pool, IPEndPoint destination)
    {
        var hit = pool.AcquireAsync(destination);
        Assert.True(hit.IsCompletedSuccessfully);
        _ = hit.Result.LocalEndPoint; // leased, then dropped without Dispose
    }

    private static MeterListener ThrowingListener(SingleMeterFactory meters, string instrument)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = (i, l) =>
            {
                if (ReferenceEquals(i.Meter, meters.Meter) && i.Name == instrument)
                {
                    l.EnableMeasurementEvents(i);
                }
            },
        };
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => throw new InvalidOperationException("a listener bug"));
        listener.Start();
        return listener;
    }

    /// <summary>Hands the pool one meter the test can tell apart from every other pool's.</summary>
    private sealed class SingleMeterFactory : IMeterFactory
    {
        public Meter? Meter { get; private set; }

        public Meter Create(MeterOptions options) => Meter = new Meter(options);

        public void Dispose() => Meter?.Dispose();
    }
}
