using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using NSubstitute;
using StackExchange.Redis;
using TuplePool.Redis;

namespace TuplePool.Tests.Fleet;

public sealed class TuplePoolRedisServiceCollectionExtensionsTests
{
    private static ServiceProvider Build(Action<RedisFleetOptions> configure, bool connected = true)
    {
        var redis = Substitute.For<IConnectionMultiplexer>();
        redis.IsConnected.Returns(connected);
        var services = new ServiceCollection().AddLogging().AddSingleton(redis);
        services.AddTuplePoolRedisFleet(configure);
        services.AddHealthChecks().AddTuplePoolRedisFleet(tags: ["ready"]);
        return services.BuildServiceProvider();
    }

    [Fact]
    public async Task AddTuplePoolRedisFleet_RegistersOneBudgetAsTheFleetBudget_OnTheContainersMultiplexer()
    {
        await using var services = Build(o => (o.FleetName, o.ExpectedInstances, o.InstanceId) = ("crawlers", 4, "pod-7"));

        var budget = services.GetRequiredService<RedisFleetBudget>();

        Assert.Same(budget, services.GetRequiredService<IFleetBudget>());
        Assert.Equal(("crawlers", "pod-7"), (budget.FleetName, budget.InstanceId));
    }

    [Fact]
    public async Task AddTuplePoolRedisFleet_BadOptions_FailWithTheSettingNamed()
    {
        await using var services = Build(o => o.FleetName = "crawlers");

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<RedisFleetOptions>>().Value);

        Assert.Contains("TuplePool Redis fleet: ExpectedInstances:", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true, HealthStatus.Healthy)]
    [InlineData(false, HealthStatus.Degraded)]
    public async Task HealthCheck_FollowsTheBudgetsStatus(bool connected, HealthStatus expected)
    {
        await using var services = Build(o => (o.FleetName, o.ExpectedInstances) = ("crawlers", 4), connected);

        var report = await services.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        var entry = report.Entries[TuplePoolRedisHealthChecksBuilderExtensions.RegistrationName];
        Assert.Equal(expected, entry.Status);
        Assert.Equal(connected ? "connected" : "unreachable", entry.Data["status"]);
        Assert.Equal(["ready"], entry.Tags);
    }
}
