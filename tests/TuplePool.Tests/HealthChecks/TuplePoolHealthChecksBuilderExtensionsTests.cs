using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Tests.Support;
using static TuplePool.Tests.HealthChecks.HealthCheckTestSupport;

namespace TuplePool.Tests.HealthChecks;

/// <summary><c>services.AddHealthChecks().AddTuplePool()</c> and <c>.AddTuplePool("name")</c> on pools from the container.</summary>
public sealed class TuplePoolHealthChecksBuilderExtensionsTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task AddTuplePool_DefaultAndKeyed_OneCheckEach_ThatTellThePoolsApart()
    {
        await using var server = new LoopbackServer();
        await using var services = CreateServices(b => b.AddTuplePool(tags: ["ready"]).AddTuplePool("backend"));
        var backend = services.GetRequiredKeyedService<ISocketPool>("backend");
        var leases = await HoldAsync(backend, server.EndPoint, 10);

        var report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(["tuplepool", "tuplepool:backend"], report.Entries.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(HealthStatus.Healthy, report.Entries["tuplepool"].Status);
        Assert.Equal(HealthStatus.Degraded, report.Entries["tuplepool:backend"].Status);
        Assert.Equal(HealthStatus.Degraded, report.Status);
        var registrations = services.GetRequiredService<IOptions<HealthCheckServiceOptions>>().Value.Registrations;
        Assert.Equal(["ready"], registrations.Single(r => r.Name == "tuplepool").Tags);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task AddTuplePool_RefusalInTheDefaultPool_IsUnhealthyForThirtySeconds()
    {
        await using var server = new LoopbackServer();
        await using var services = CreateServices(b => b.AddTuplePool());
        var checks = services.GetRequiredService<HealthCheckService>();
        var pool = services.GetRequiredService<ISocketPool>();
        Assert.Equal(HealthStatus.Healthy, (await checks.CheckHealthAsync()).Status);

        var leases = await HoldAsync(pool, server.EndPoint, 10);
        await RefuseAsync(pool, server.EndPoint, _time);
        var refused = await checks.CheckHealthAsync();
        leases.ForEach(l => l.Dispose());
        _time.Advance(TimeSpan.FromSeconds(31));
        var later = await checks.CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, refused.Entries["tuplepool"].Status);
        Assert.Equal(HealthStatus.Healthy, later.Entries["tuplepool"].Status);
        Assert.Equal(1L, later.Entries["tuplepool"].Data["refusedTotal"]);
    }

    [Fact]
    public async Task AddTuplePool_RefusalInAKeyedPool_IsUnhealthyOnlyInItsOwnCheck()
    {
        // Both pools share the container's meter factory; each check reads its own pool's refusals.
        await using var server = new LoopbackServer();
        await using var services = CreateServices(b => b.AddTuplePool().AddTuplePool("backend"));
        var checks = services.GetRequiredService<HealthCheckService>();
        var backend = services.GetRequiredKeyedService<ISocketPool>("backend");

        var leases = await HoldAsync(backend, server.EndPoint, 10);
        await RefuseAsync(backend, server.EndPoint, _time);
        leases.ForEach(l => l.Dispose());
        var report = await checks.CheckHealthAsync();

        Assert.Equal(HealthStatus.Unhealthy, report.Entries["tuplepool:backend"].Status);
        Assert.Equal(1L, report.Entries["tuplepool:backend"].Data["refusedTotal"]);
        Assert.Equal(HealthStatus.Healthy, report.Entries["tuplepool"].Status);
        Assert.Equal(0L, report.Entries["tuplepool"].Data["refusedTotal"]);
    }

    [Fact]
    public void AddTuplePool_EmptyPoolName_IsRefused()
    {
        var builder = new ServiceCollection().AddHealthChecks();

        Assert.Throws<ArgumentException>(() => builder.AddTuplePool(" "));
    }

    private ServiceProvider CreateServices(Action<IHealthChecksBuilder> checks)
    {
        var services = new ServiceCollection()
            .AddSingleton<TimeProvider>(_time)
            .AddMetrics()
            .AddLogging();
        services.AddTuplePool(o => Configure(o, PortSlices.Next(10)));
        services.AddTuplePool("backend", o => Configure(o, PortSlices.Next(10)));
        checks(services.AddHealthChecks());
        return services.BuildServiceProvider();
    }

    private static void Configure(TuplePoolOptions options, PortRange slice)
    {
        options.SourceAddresses = [TestSources.S2];
        options.LocalPortRange = slice;
        options.AcquireTimeout = TimeSpan.FromSeconds(5);
        options.CloseMode = CloseMode.Abortive;
    }
}
