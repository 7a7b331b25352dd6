using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using TuplePool.Redis;
using TuplePool.Redis.Hosting;
using TuplePool.Redis.Telemetry;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// The fleet's redis-server killed mid-run and started again empty (no persistence): grants last
/// their lease, then each instance keeps to its static share and says so (status, log event,
/// metric), and re-asserts what it holds when Redis is back; a Redis that lost its keys grants
/// nothing new for the recovery window (lease + hold, the default here), so nothing is ever
/// over-granted. The class has its own server, since its tests stop it. Capacity 60, static share
/// 5, 45 through Redis, lease 2 s, hold 1 s.
/// </summary>
public sealed class RedisFleetOutageTests : IClassFixture<RedisFixture>, IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static int s_port = 3000;

    private readonly RedisFixture _redis;
    private readonly FakeLoggerProvider _logs = new();
    private readonly LoggerFactory _loggerFactory;
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public RedisFleetOutageTests(RedisFixture redis)
    {
        _redis = redis;
        _loggerFactory = new LoggerFactory([_logs]);
    }

    private IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _logs.Dispose();
        _services.Dispose();
    }

    [Fact]
    public async Task RedisKilledMidRun_GrantsLastTheirLease_ThenTheStaticShare_AndAreReassertedWhenItReturns()
    {
        _redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        using var degraded = new MetricCollector<long>(MeterFactory, FleetMetrics.MeterName, "tuplepool.fleet.degraded");
        using var leasesEnded = new MetricCollector<long>(MeterFactory, FleetMetrics.MeterName, "tuplepool.fleet.leases_ended");
        var a = await lab.AddAsync("a");
        var b = await lab.AddAsync("b");
        await using var watch = lab.Watch();

        // A fresh Redis cannot tell "new" from "lost its keys": the static shares serve through the
        // recovery window, then the grants grow.
        await OpenAsync(a, 20);
        await OpenAsync(b, 20);
        Assert.Equal(RedisFleetStatus.Connected, a.Budget.Status);

        await _redis.Server.KillAsync();
        Assert.True(await Eventually(() => a.Budget.Status == RedisFleetStatus.Unreachable && b.Budget.Status == RedisFleetStatus.Unreachable), $"status {a.Budget.Status}, {b.Budget.Status}");
        Assert.True(a.Pool.Grant >= 20, $"a's grant {a.Pool.Grant} went before its lease ended");
        Assert.True(await Eventually(() => Events(101, lab) == 2), $"{Events(101, lab)} unreachable events");
        degraded.RecordObservableInstruments();
        Assert.Equal(1, degraded.LastMeasurement?.Value);
        Assert.Equal(HealthStatus.Degraded, (await new RedisFleetHealthCheck(a.Budget).CheckHealthAsync(new HealthCheckContext())).Status);

        // The leases end: the static share, and nothing new while more than it is held.
        Assert.True(await Eventually(() => a.Pool.Grant == FleetLab.StaticShare && b.Pool.Grant == FleetLab.StaticShare), $"grants {a.Pool.Grant}, {b.Pool.Grant}");
        Assert.False(a.Pool.TryOpen());
        Assert.True(await Eventually(() => Events(102, lab) == 2), $"{Events(102, lab)} lease-end events");
        Assert.True(leasesEnded.GetMeasurementSnapshot().Sum(m => m.Value) >= 2);

        await _redis.RestartEmptyAsync();

        // Back: each re-asserts what it holds (15 beyond its static share) and is Connected once the
        // new epoch's recovery window is over; a newcomer gets only its static share meanwhile.
        Assert.True(await Eventually(() => a.Pool.Grant >= 20 && b.Pool.Grant >= 20), $"grants {a.Pool.Grant}, {b.Pool.Grant}");
        Assert.InRange((await lab.RecordOfAsync("a"))?.Grant ?? 0, 15, FleetLab.Coordinated);
        Assert.InRange((await lab.RecordOfAsync("b"))?.Grant ?? 0, 15, FleetLab.Coordinated);
        Assert.True(await Eventually(() => Events(103, lab) == 2), $"{Events(103, lab)} restored events");
        var c = await lab.AddAsync("c");
        var newcomer = Enumerable.Range(0, 10).Select(_ => c.Pool.OpenAsync(Patience)).ToArray();
        Assert.True(await Eventually(() => c.Pool.Open == FleetLab.StaticShare));
        if (a.Budget.Status == RedisFleetStatus.Recovering)
        {
            Assert.Equal(FleetLab.StaticShare, c.Pool.Grant);
        }

        Assert.All(await Task.WhenAll(newcomer), Assert.True);
        Assert.True(await Eventually(() => a.Budget.Status == RedisFleetStatus.Connected));
        await OpenAsync(a, 5);
        degraded.RecordObservableInstruments();
        Assert.Equal(0, degraded.LastMeasurement?.Value);
        await watch.CatchUpAsync();
        Assert.Null(watch.Fault);
        Assert.InRange(watch.MaxHeld, 40, FleetLab.Capacity);
        Assert.InRange(watch.MaxPromised, 40, FleetLab.Capacity);
        Assert.InRange(watch.MaxRecorded, 30, FleetLab.Coordinated);
    }

    [Fact]
    public async Task RedisRestartedEmptyWhileLeasesRun_GrantsAreRebuilt_AndNothingIsOverGranted()
    {
        _redis.SkipUnlessInstalled();
        await using var lab = CreateLab();
        using var keysLost = new MetricCollector<long>(MeterFactory, FleetMetrics.MeterName, "tuplepool.fleet.keys_lost");
        var a = await lab.AddAsync("a");
        var b = await lab.AddAsync("b");
        await using var watch = lab.Watch();
        await OpenAsync(a, 20);
        await OpenAsync(b, 10);
        Assert.True(await Eventually(() => a.Budget.Status == RedisFleetStatus.Connected));
        var recordedBefore = await lab.RecordedAsync();

        await _redis.RestartEmptyAsync();
        var c = await lab.AddAsync("c");
        var newcomer = Enumerable.Range(0, 20).Select(_ => c.Pool.OpenAsync(Patience)).ToArray();

        // Within the recovery window (on Redis's clock) c stays at its static share, whatever a and b
        // re-assert. The grant is read before Redis's time: a grant seen at a time before the
        // window's end was made before it.
        Assert.True(await Eventually(() => _redis.Inspect.HashExists(lab.Keys.Epoch, "until")), "no new epoch");
        var windowEnd = (long)_redis.Inspect.HashGet(lab.Keys.Epoch, "until");
        var samples = 0;
        while (true)
        {
            var grant = c.Pool.Grant;
            var now = await RedisNowAsync();
            if (now >= windowEnd)
            {
                break;
            }

            Assert.Equal(FleetLab.StaticShare, grant);
            samples++;
            await Task.Delay(5);
        }

        Assert.True(samples > 10, $"{samples} samples in the recovery window");
        // Rebuilt: each re-asserted at least what it holds beyond its static share (all of its grant
        // if its lease outlived the restart).
        Assert.InRange((await lab.RecordOfAsync("a"))?.Grant ?? 0, 20 - FleetLab.StaticShare, recordedBefore);
        Assert.InRange((await lab.RecordOfAsync("b"))?.Grant ?? 0, 10 - FleetLab.StaticShare, recordedBefore);
        Assert.True(await Eventually(() => Events(104, lab) >= 1), "no keys-lost event");
        Assert.True(keysLost.GetMeasurementSnapshot().Count >= 1);

        // Then c gets what a and b leave.
        Assert.All(await Task.WhenAll(newcomer), Assert.True);
        await watch.CatchUpAsync();
        Assert.Null(watch.Fault);
        Assert.InRange(watch.MaxHeld, 50, FleetLab.Capacity);
        Assert.InRange(watch.MaxPromised, 50, FleetLab.Capacity);
        Assert.InRange(watch.MaxRecorded, 20, FleetLab.Coordinated);
    }

    private FleetLab CreateLab()
        => new(_redis, Interlocked.Increment(ref s_port), o => o.RecoveryWindow = null, _loggerFactory, MeterFactory);

    private static async Task OpenAsync(FleetMember member, int count)
    {
        for (var i = 0; i < count; i++)
        {
            Assert.True(await member.Pool.OpenAsync(Patience), $"{member.Name}'s connection {i + 1} of {count}");
        }
    }

    private async Task<long> RedisNowAsync()
    {
        var time = (StackExchange.Redis.RedisResult[])(await _redis.Inspect.ExecuteAsync("TIME"))!;
        return (long.Parse((string)time[0]!, System.Globalization.CultureInfo.InvariantCulture) * 1000) + (long.Parse((string)time[1]!, System.Globalization.CultureInfo.InvariantCulture) / 1000);
    }

    private int Events(int id, FleetLab lab)
        => _logs.Collector.GetSnapshot().Count(r => r.Id.Id == id && r.Message.Contains(lab.FleetName, StringComparison.Ordinal));

    private static Task<bool> Eventually(Func<bool> condition) => Support.Eventually.TrueAsync(condition, Patience);
}
