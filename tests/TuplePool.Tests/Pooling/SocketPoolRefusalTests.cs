using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Telemetry;
using TuplePool.Tests.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// The refusal a real pool throws names the real cause (<see cref="TupleBudgetExhaustedException.Cause"/>),
/// with the facts only the pool knows: its oldest leases, its connection limit, when room may come,
/// quarantined sources that show no free port, and ports held by sockets the pool does not own;
/// callers refused together each get that real usage. Loopback sockets, a fake clock.
/// </summary>
public sealed partial class SocketPoolRefusalTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task AllPortsLeasedToASilentBackend_IsActiveConnections_WithTheOldestLeasesAndTheirAge()
    {
        await using var server = new LoopbackServer(); // accepts and never answers
        await using var pool = CreateSut(capacity: 2);
        var held = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) };
        _time.Advance(TimeSpan.FromSeconds(40));

        var error = await RefuseAsync(pool, server.EndPoint);

        Assert.Equal(RefusalCause.ActiveConnections, error.Cause);
        Assert.StartsWith($"No port is free to {server.EndPoint}: all 2 ports on 1 source address are held by this pool's open connections (2 leased out or being opened)", error.Message, StringComparison.Ordinal);
        var ages = LeaseAges().Matches(error.Message).Select(m => int.Parse(m.Groups["seconds"].Value, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(2, ages.Count); // both leases, each named with its local port
        Assert.All(ages, age => Assert.InRange(age, 44, 46)); // lent 45 s before the refusal (the lease clock ticks once a second)
        Assert.Contains($"({TestSources.S2}:{held[0].LocalEndPoint.Port} -> {server.EndPoint})", error.Message, StringComparison.Ordinal);
        Assert.Null(error.RetryAfter); // only a close can bring room
        foreach (var lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task ALeaseFromTheIdleStore_IsAgedFromItsOwnLend_NotTheConnectionsFirst()
    {
        // The idle hit lends without the slow path: the lend time must be set there too, or a
        // connection reused 40 s after it was opened reads as a lease 40 s old.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 1);
        (await pool.AcquireAsync(server.EndPoint)).Dispose(); // opened, then idle
        _time.Advance(TimeSpan.FromSeconds(40));
        using var reused = await pool.AcquireAsync(server.EndPoint);
        Assert.True(reused.IsReused);

        var error = await RefuseAsync(pool, server.EndPoint);

        Assert.Equal(RefusalCause.ActiveConnections, error.Cause);
        var age = int.Parse(Assert.Single(LeaseAges().Matches(error.Message)).Groups["seconds"].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(age, 4, 6); // lent again 5 s before the refusal
    }

    [Fact]
    public async Task MaxConnectionsPerDestinationReached_IsConnectionLimit_WithThePortsStillFree()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 100, o => o.MaxConnectionsPerDestination = 1);
        using var held = await pool.AcquireAsync(server.EndPoint);

        var error = await RefuseAsync(pool, server.EndPoint);

        Assert.Equal(RefusalCause.ConnectionLimit, error.Cause);
        Assert.StartsWith($"No connection to {server.EndPoint} could be opened: 1 connection to it is open (leased, idle or being opened) and TuplePoolOptions.MaxConnectionsPerDestination is 1; 99 ports are still free.", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Add source addresses", error.Message, StringComparison.Ordinal);
        Assert.Null(error.RetryAfter);
    }

    [Fact]
    public async Task KernelRefusesForTimeWaitAnEarlierProcessLeft_IsExternalTimeWait_WithTheKernelsCount()
    {
        // A restart within 60 s: the kernel still holds the earlier process's TIME_WAIT sockets on
        // the tuple, the new pool holds nothing, and every connect gets EADDRNOTAVAIL.
        await using var server = new LoopbackServer();
        var connector = Substitute.For<ISocketConnector>();
        connector.ConnectAsync(TestSources.S2, Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns<ValueTask<Socket>>(_ => throw new SocketException((int)SocketError.AddressNotAvailable));
        var census = new FakeKernelCensus(Enumerable.Range(40000, 10).Select(port => FakeKernelCensus.Socket(TestSources.S2, port, server.EndPoint, TcpState.TimeWait)));
        var options = Options(capacity: 10);
        await using var pool = new SocketPool(options, _time, null, null, connector, census, TestKernel.Create(twReuse: 0));

        // Steps that do not fall on the kernel refusal's 1 s hold: the deadline comes while one is in force.
        var error = await RefuseAsync(pool, server.EndPoint, step: TimeSpan.FromSeconds(0.3));

        Assert.Equal(RefusalCause.ExternalTimeWait, error.Cause);
        Assert.StartsWith($"No port is free to {server.EndPoint}: the kernel refused one, and all 10 ports on 1 source address are TIME_WAIT sockets this pool does not own", error.Message, StringComparison.Ordinal);
        var usage = Assert.Single(error.Usage);
        Assert.Equal((0, 0, 0, 10, 10), (usage.Active, usage.Idle, usage.TimeWait, usage.External, usage.ExternalTimeWait));
        Assert.NotNull(error.RetryAfter);
        Assert.InRange(error.RetryAfter.Value, TimeSpan.Zero, ConnectionOpener.KernelCorrectionHold); // the pool tries the tuple again then
    }

    [Fact]
    public async Task OwnTimeWait_IsTimeWait_AndRetryAfterIsWhenTheFirstEnds()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(capacity: 2, o => o.CloseMode = CloseMode.Graceful);
        for (var i = 0; i < 2; i++)
        {
            var lease = await pool.AcquireAsync(server.EndPoint);
            lease.Invalidate(); // closed first by us: TIME_WAIT, charged 60 s (tcp_tw_reuse 0)
            lease.Dispose();
            _time.Advance(TimeSpan.FromSeconds(1));
        }

        var error = await RefuseAsync(pool, server.EndPoint);

        Assert.Equal(RefusalCause.TimeWait, error.Cause);
        Assert.StartsWith($"No port is free to {server.EndPoint}: all 2 ports on 1 source address are in TIME_WAIT after this pool's own graceful closes", error.Message, StringComparison.Ordinal);
        Assert.NotNull(error.RetryAfter);
        Assert.InRange(error.RetryAfter.Value, TimeSpan.FromSeconds(52), TimeSpan.FromSeconds(54)); // the first close was 7 s before the refusal
    }

    [Fact]
    public async Task TheOnlySourceWithRoomQuarantined_IsSourcesQuarantined_AndItsTupleShowsNoFreePort()
    {
        var notAssigned = IPAddress.Parse("192.0.2.1"); // TEST-NET-1: bind fails here, nothing is sent
        await using var server = new LoopbackServer();
        var options = Options(capacity: 2);
        options.SourceAddresses = [notAssigned, TestSources.S2];
        options.LocalPortRange = PortSlices.Next(2); // real sockets: a slice of the test's own
        await using var pool = TestPools.Unprobed(options, _time);
        var held = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) }; // the first bind to 192.0.2.1 fails

        var error = await RefuseAsync(pool, server.EndPoint);

        Assert.Equal(RefusalCause.SourcesQuarantined, error.Cause);
        var quarantined = Assert.Single(error.Usage, u => u.Source.Equals(notAssigned));
        Assert.True(quarantined.IsQuarantined);
        Assert.Equal(0, quarantined.Remaining); // it cannot give the 2 ports it has nothing on
        Assert.NotNull(error.RetryAfter);
        Assert.InRange(error.RetryAfter.Value, TimeSpan.FromSeconds(24), TimeSpan.FromSeconds(26)); // SourceQuarantine 30 s, 5 s of it waited
        foreach (var lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task Snapshot_ASourceQuarantinedWhileItHoldsConnections_ShowsNoFreePortAndListsTheQuarantine()
    {
        // A quarantined source's tuples show no free port: they have ports, but cannot give them.
        await using var server = new LoopbackServer();
        var real = FakeConnector.Create();
        var connector = Substitute.For<ISocketConnector>();
        var fromS3 = 0;
        connector.ConnectAsync(Arg.Any<IPAddress>(), Arg.Any<IPEndPoint>(), Arg.Any<CancellationToken>())
            .Returns(call => call.ArgAt<IPAddress>(0).Equals(TestSources.S3) && Interlocked.Increment(ref fromS3) > 1
                ? throw new SourceBindException(TestSources.S3, new SocketException((int)SocketError.AddressNotAvailable))
                : real.ConnectAsync(call.ArgAt<IPAddress>(0), call.ArgAt<IPEndPoint>(1), call.ArgAt<CancellationToken>(2)));
        var options = Options(capacity: 10);
        options.SourceAddresses = TestSources.Take(2);
        await using var pool = new SocketPool(options, _time, null, null, connector, Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
        var leases = new List<SocketLease>();
        for (var i = 0; i < 4; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint)); // S2, S3, S2, then S3 fails to bind and S2 serves
        }

        var snapshot = pool.GetSnapshot();

        var s3 = Assert.Single(snapshot.Tuples, t => t.Source.Equals(TestSources.S3));
        Assert.True(s3.IsQuarantined);
        Assert.Equal((1, 0), (s3.Active, s3.Remaining)); // 9 ports it holds nothing on, none it can give
        Assert.False(Assert.Single(snapshot.Tuples, t => t.Source.Equals(TestSources.S2)).IsQuarantined);
        var status = Assert.Single(snapshot.Sources, s => s.Address.Equals(TestSources.S3));
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(30), status.QuarantinedUntil);
        Assert.Contains(snapshot.Sources, s => s.Address.Equals(TestSources.S2) && !s.IsQuarantined);
        Assert.Contains("127.0.0.3: quarantined until", snapshot.ToString(), StringComparison.Ordinal);
        Assert.Equal(PoolTotals.Of(snapshot), pool.Destinations.Snapshots.ReadTotals()); // the meter's remaining agrees: S3 gives none
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.All(pool.GetSnapshot().Sources, s => Assert.False(s.IsQuarantined));
        Assert.Equal(9, pool.GetSnapshot().Tuples.Single(t => t.Source.Equals(TestSources.S3)).Remaining);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Snapshot_KernelChoosesTheSource_ListsNoSource()
    {
        await using var pool = CreateSut(capacity: 10, o => o.SourceAddresses = []);

        Assert.Empty(pool.GetSnapshot().Sources);
    }

    [Fact]
    public async Task SeveralWaitersTimingOutTogether_EachGetsTheRealUsage()
    {
        // Every waiter refused at once gets the usage, not only the first: the others must not get
        // an empty list and the message "(no source address of the destination's address family ...)".
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
    public async Task KernelCountsPortsHeldByOthers_TheUsageAndMessageShowThem()
    {
        // A tuple the pool does not use at all, yet full: the ports others hold are shown, not just
        // "0 active, 0 idle, 0 TIME_WAIT of 10".
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

    private static TuplePoolOptions Options(int capacity) => new()
    {
        SourceAddresses = TestSources.Take(1),
        LocalPortRange = new PortRange(40000, 40000 + capacity - 1),
        AcquireTimeout = TimeSpan.FromSeconds(5),
        SourceQuarantine = TimeSpan.FromSeconds(30),
        CloseMode = CloseMode.Abortive,
    };

    private SocketPool CreateSut(int capacity, Action<TuplePoolOptions>? configure = null)
    {
        var options = Options(capacity);
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, FakeConnector.Create(), Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
    }

    /// <summary>
    /// A pool on <paramref name="time"/> whose budget is <paramref name="capacity"/> ports of a
    /// 100-port slice and whose callers may wait 300 s (<see cref="LoopbackPool"/>), for refusals
    /// the test times itself.
    /// </summary>
    private static SocketPool CreateSut(TimeProvider time, int capacity = 10, Action<TuplePoolOptions>? configure = null, ISocketConnector? connector = null, ILoggerFactory? loggerFactory = null)
        => LoopbackPool.Create(time, capacity, CloseMode.Abortive, configure, connector, loggerFactory);

    /// <summary>An acquire that waits out AcquireTimeout (5 s) on the fake clock, a <paramref name="step"/> (1 s) at a time, and its refusal.</summary>
    private async Task<TupleBudgetExhaustedException> RefuseAsync(SocketPool pool, EndPoint destination, TimeSpan? step = null)
    {
        var waiting = pool.AcquireAsync(destination).AsTask();
        for (var i = 0; i < 200 && !waiting.IsCompleted; i++)
        {
            await PoolWait.UntilAsync(() => waiting.IsCompleted || pool.GetSnapshot().PendingAcquires == 1);
            _time.Advance(step ?? TimeSpan.FromSeconds(1));
            await Task.WhenAny(waiting, Task.Delay(100));
        }

        return await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting);
    }

    [GeneratedRegex(@"(?<seconds>\d+) s ago \(")]
    private static partial Regex LeaseAges();
}
