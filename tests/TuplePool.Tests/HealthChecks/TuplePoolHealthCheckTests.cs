using System.Diagnostics.Metrics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Time.Testing;
using TuplePool.HealthChecks;
using TuplePool.Tests.Pooling;
using TuplePool.Tests.Support;
using static TuplePool.Tests.HealthChecks.HealthCheckTestSupport;

namespace TuplePool.Tests.HealthChecks;

/// <summary>The health rules, on real loopback pools where the pool can show the condition, on a fake reading where it cannot yet.</summary>
public sealed class TuplePoolHealthCheckTests : IDisposable
{
    private static readonly IPAddress NotAssigned = IPAddress.Parse("192.0.2.1"); // TEST-NET-1: bind fails, nothing is sent

    private readonly FakeTimeProvider _time = new();
    private readonly ServiceProvider _metrics = new ServiceCollection().AddMetrics().BuildServiceProvider();

    private IMeterFactory MeterFactory => _metrics.GetRequiredService<IMeterFactory>();

    public void Dispose() => _metrics.Dispose();

    [Theory]
    [InlineData(9, HealthStatus.Healthy)] // 90 %: not above the threshold
    [InlineData(10, HealthStatus.Degraded)]
    public async Task CheckHealthAsync_TupleUse_IsDegradedAboveNinetyPercent(int held, HealthStatus expected)
    {
        await using var server = new LoopbackServer();
        await using var pool = CreatePool(capacity: 10);
        var leases = await HoldAsync(pool, server.EndPoint, held);

        var result = await CheckAsync(new SocketPoolHealthSource(pool), _time);

        Assert.Equal(expected, result.Status);
        var busiest = Assert.Single(Busiest(result));
        Assert.StartsWith($"127.0.0.2 -> {server.EndPoint}: {held} of 10 ports used", busiest, StringComparison.Ordinal);
        if (expected == HealthStatus.Degraded)
        {
            Assert.Contains("above 90 %", result.Description, StringComparison.Ordinal);
        }

        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task CheckHealthAsync_EverySourceOfTheFamilyQuarantined_IsUnhealthyUntilTheQuarantineEnds()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreatePool(capacity: 10, sources: [NotAssigned]);
        await Assert.ThrowsAsync<SocketException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        var result = await CheckAsync(new SocketPoolHealthSource(pool), _time);
        _time.Advance(TimeSpan.FromSeconds(31)); // SourceQuarantine is 30 s
        var later = await CheckAsync(new SocketPoolHealthSource(pool), _time);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("every IPv4 source is quarantined", result.Description, StringComparison.Ordinal);
        Assert.Equal(["IPv4"], (string[])result.Data["quarantinedFamilies"]);
        Assert.Equal(HealthStatus.Healthy, later.Status);
    }

    [Fact]
    public async Task CheckHealthAsync_OneOfTwoSourcesQuarantined_StaysHealthy()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreatePool(capacity: 10, sources: [NotAssigned, TestSources.S2]);
        var leases = await HoldAsync(pool, server.EndPoint, 2); // the first tries 192.0.2.1, which is quarantined

        var result = await CheckAsync(new SocketPoolHealthSource(pool), _time);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Empty((string[])result.Data["quarantinedFamilies"]);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task CheckHealthAsync_RefusedForExhaustion_IsUnhealthyForTheRefusalWindow()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreatePool(capacity: 2);
        var source = new SocketPoolHealthSource(pool);
        var leases = await HoldAsync(pool, server.EndPoint, 2);
        Assert.Equal(HealthStatus.Degraded, (await CheckAsync(source, _time)).Status); // 2 of 2 ports

        await RefuseAsync(pool, server.EndPoint, _time);
        var refused = await CheckAsync(source, _time);
        _time.Advance(TimeSpan.FromSeconds(25));
        var stillInWindow = await CheckAsync(source, _time);
        _time.Advance(TimeSpan.FromSeconds(10));
        var pastWindow = await CheckAsync(source, _time);
        leases.ForEach(l => l.Dispose());
        var released = await CheckAsync(source, _time);

        Assert.Equal(HealthStatus.Unhealthy, refused.Status);
        Assert.Contains("refused for exhaustion", refused.Description, StringComparison.Ordinal);
        Assert.Equal(1L, refused.Data["refusedTotal"]);
        Assert.Equal(HealthStatus.Unhealthy, stillInWindow.Status);
        Assert.Equal(HealthStatus.Degraded, pastWindow.Status); // still 2 of 2 ports, but no recent refusal
        Assert.Equal(HealthStatus.Healthy, released.Status); // 2 idle connections: a caller takes one at once
    }

    [Fact]
    public async Task CheckHealthAsync_RefusalInAnotherPoolOfTheSameMeterFactory_IsNotCounted()
    {
        // Both pools' meters come from one factory (as keyed pools of one container do): the
        // refusal is the other pool's own, so it does not show here.
        await using var server = new LoopbackServer();
        await using var other = CreatePool(capacity: 1);
        await using var pool = CreatePool(capacity: 1);
        var held = await other.AcquireAsync(server.EndPoint);

        await RefuseAsync(other, server.EndPoint, _time);
        var result = await CheckAsync(new SocketPoolHealthSource(pool), _time);
        var otherResult = await CheckAsync(new SocketPoolHealthSource(other), _time);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal(0L, result.Data["refusedTotal"]);
        Assert.False(result.Data.ContainsKey("lastRefusal"));
        Assert.Equal(HealthStatus.Unhealthy, otherResult.Status);
        held.Dispose();
    }

    [Fact]
    public async Task CheckHealthAsync_RefusalInAPoolWithoutMetrics_IsStillSeen()
    {
        // The pool keeps its refusals itself: no meter factory, no listener, and no health check
        // running before the refusal. The wait line is full, so the refusal comes at once and its
        // time is exactly the fake clock's.
        await using var server = new LoopbackServer();
        await using var pool = CreatePool(capacity: 1, withMetrics: false, configure: o => o.MaxPendingAcquires = 1);
        var held = await pool.AcquireAsync(server.EndPoint);
        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await PoolWait.UntilPendingAsync(pool, 1);

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());
        var result = await CheckAsync(new SocketPoolHealthSource(pool), _time);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Equal(1L, result.Data["refusedTotal"]);
        Assert.Equal(_time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture), result.Data["lastRefusal"]);
        held.Dispose();
        (await waiting).Dispose();
    }

    [Theory]
    [InlineData(29_999, HealthStatus.Unhealthy)]
    [InlineData(30_000, HealthStatus.Healthy)] // the window is 30 s: a refusal exactly 30 s old is out of it
    public async Task CheckHealthAsync_RefusalAge_IsUnhealthyOnlyWithinThirtySeconds(int ageMilliseconds, HealthStatus expected)
    {
        var source = new FakeHealthSource { RefusedTotal = 1, LastRefusal = _time.GetUtcNow() };
        _time.Advance(TimeSpan.FromMilliseconds(ageMilliseconds));

        var result = await CheckAsync(source, _time);

        Assert.Equal(expected, result.Status);
    }

    [Fact]
    public async Task CheckHealthAsync_IdleConnections_DoNotCountAsUsed()
    {
        var source = new FakeHealthSource();
        source.Tuples.Add(new TupleUsage(TestSources.S2, new IPEndPoint(IPAddress.Loopback, 80), capacity: 10, active: 1, idle: 9, timeWait: 0, remaining: 0));

        var result = await CheckAsync(source, _time);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.StartsWith("127.0.0.2 -> 127.0.0.1:80: 1 of 10 ports used", Assert.Single(Busiest(result)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHealthAsync_CallersWaiting_IsDegraded()
    {
        var source = new FakeHealthSource { PendingAcquires = 3 }.WithTuple(used: 1, capacity: 100);

        var result = await CheckAsync(source, _time);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("3 caller(s) waiting", result.Description, StringComparison.Ordinal);
        Assert.Equal(3, result.Data["pendingAcquires"]);
    }

    [Fact]
    public async Task CheckHealthAsync_RealPool_ReportsItsWaitingCallers()
    {
        // The real pool counts them (TuplePoolSnapshot.PendingAcquires): none here.
        await using var pool = CreatePool(capacity: 10);

        var result = await CheckAsync(new SocketPoolHealthSource(pool), _time);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal(0, result.Data["pendingAcquires"]);
        Assert.Equal("no tuple in use", result.Description);
    }

    [Fact]
    public async Task CheckHealthAsync_BusiestTuples_AreListedBusiestFirstUpToTheOption()
    {
        var source = new FakeHealthSource()
            .WithTuple(used: 10, capacity: 100, port: 1)
            .WithTuple(used: 80, capacity: 100, port: 2)
            .WithTuple(used: 40, capacity: 100, port: 3);

        var result = await CheckAsync(source, _time, o => o.BusiestTuples = 2);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        var busiest = Busiest(result);
        Assert.Equal(2, busiest.Length);
        Assert.StartsWith("127.0.0.2 -> 127.0.0.1:2: 80 of 100", busiest[0], StringComparison.Ordinal);
        Assert.StartsWith("127.0.0.2 -> 127.0.0.1:3: 40 of 100", busiest[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHealthAsync_LowerThreshold_DegradesSooner()
    {
        var source = new FakeHealthSource().WithTuple(used: 60, capacity: 100);

        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(source, _time)).Status);
        Assert.Equal(HealthStatus.Degraded, (await CheckAsync(source, _time, o => o.BudgetThreshold = 0.5)).Status);
    }

    [Fact]
    public async Task CheckHealthAsync_RefusalOlderThanACustomWindow_IsNotUnhealthy()
    {
        var source = new FakeHealthSource { RefusedTotal = 4, LastRefusal = _time.GetUtcNow() };
        _time.Advance(TimeSpan.FromSeconds(6));

        Assert.Equal(HealthStatus.Unhealthy, (await CheckAsync(source, _time)).Status);
        Assert.Equal(HealthStatus.Healthy, (await CheckAsync(source, _time, o => o.RefusalWindow = TimeSpan.FromSeconds(5))).Status);
    }

    [Fact]
    public async Task CheckHealthAsync_OnlyBackgroundRefusalsInTheWindow_IsDegraded_NotUnhealthy()
    {
        var source = new FakeHealthSource { RefusedTotal = 0, BackgroundTotal = 12, LastBackground = _time.GetUtcNow() };
        _time.Advance(TimeSpan.FromSeconds(3));

        var result = await CheckAsync(source, _time);
        _time.Advance(TimeSpan.FromSeconds(30));
        var later = await CheckAsync(source, _time);

        Assert.Equal(HealthStatus.Degraded, result.Status);
        Assert.Contains("background connection attempts were refused for exhaustion in the last 30 s, no request received them (most recently 3 s ago, 12 in all)", result.Description, StringComparison.Ordinal);
        Assert.Equal(12L, result.Data["backgroundRefusedTotal"]);
        Assert.Equal(HealthStatus.Healthy, later.Status);
    }

    [Fact]
    public async Task CheckHealthAsync_ARefusalACallerReceivedBesideBackgroundOnes_IsUnhealthy()
    {
        var source = new FakeHealthSource { RefusedTotal = 1, LastRefusal = _time.GetUtcNow(), BackgroundTotal = 5, LastBackground = _time.GetUtcNow() };

        var result = await CheckAsync(source, _time);

        Assert.Equal(HealthStatus.Unhealthy, result.Status);
        Assert.Contains("callers were refused for exhaustion", result.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckHealthAsync_AQuarantinedSourcesTuple_DoesNotCountAsUsed()
    {
        // Its tuple shows no free port (it cannot give one); that is the quarantine, not use.
        var source = new FakeHealthSource();
        source.Tuples.Add(new TupleUsage(NotAssigned, new IPEndPoint(IPAddress.Loopback, 80), 10, 1, 0, 0, 0, 0, 0, 0, isQuarantined: true));
        source.Tuples.Add(new TupleUsage(TestSources.S2, new IPEndPoint(IPAddress.Loopback, 80), 10, 1, 0, 0, 9));

        var result = await CheckAsync(source, _time);

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.StartsWith("127.0.0.2 -> 127.0.0.1:80: 1 of 10 ports used", Assert.Single(Busiest(result)), StringComparison.Ordinal);
    }

    [Fact]
    public void TuplePoolPackage_LetsNotTheHealthCheckPackageSeeItsInternals()
    {
        // A health-check package of another version than the pool's must not break at run time:
        // it reads the pool through public API only (the snapshot).
        var friends = typeof(SocketPool).Assembly.GetCustomAttributes(typeof(System.Runtime.CompilerServices.InternalsVisibleToAttribute), inherit: false)
            .Cast<System.Runtime.CompilerServices.InternalsVisibleToAttribute>()
            .Select(a => a.AssemblyName);

        Assert.DoesNotContain("TuplePool.HealthChecks", friends);
    }

    [Theory]
    [InlineData(0.0, 30, 5)]
    [InlineData(1.5, 30, 5)]
    [InlineData(double.NaN, 30, 5)]
    [InlineData(0.9, 0, 5)]
    [InlineData(0.9, 30, -1)]
    public void Options_OutOfRange_AreRefusedAtRegistration(double threshold, int windowSeconds, int busiest)
    {
        var builder = new ServiceCollection().AddHealthChecks();

        Assert.Throws<ArgumentOutOfRangeException>(() => builder.AddTuplePool(o =>
        {
            o.BudgetThreshold = threshold;
            o.RefusalWindow = TimeSpan.FromSeconds(windowSeconds);
            o.BusiestTuples = busiest;
        }));
    }

    private SocketPool CreatePool(int capacity, IList<IPAddress>? sources = null, bool withMetrics = true, Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions
        {
            SourceAddresses = sources ?? [TestSources.S2],
            LocalPortRange = PortSlices.Next(capacity),
            AcquireTimeout = TimeSpan.FromSeconds(5),
            CloseMode = CloseMode.Abortive, // no TIME_WAIT left in the slice for a later run
        };
        configure?.Invoke(options);
        return TestPools.Unprobed(options, _time, loggerFactory: null, withMetrics ? MeterFactory : null); // NotAssigned is quarantined at run time
    }
}
