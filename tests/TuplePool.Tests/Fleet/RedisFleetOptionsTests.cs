using NSubstitute;
using StackExchange.Redis;
using TuplePool.Redis;

namespace TuplePool.Tests.Fleet;

public sealed class RedisFleetOptionsTests
{
    private static RedisFleetOptions Valid() => new() { FleetName = "crawlers", ExpectedInstances = 10 };

    [Fact]
    public void Defaults_WithAFleetNameAndExpectedInstances_AreValid()
    {
        var options = Valid();

        Assert.Empty(options.Validate());
        Assert.Equal(("tuplepool:", TimeSpan.FromSeconds(30), 64, 0.25), (options.KeyPrefix, options.LeaseTime, options.ChunkSize, options.StaticShareFraction));
        Assert.Equal((TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2)), (options.WaitRetryInterval, options.RequestTimeout));
        Assert.Null(options.InstanceId);
        Assert.Null(options.RecoveryWindow);
    }

    public static TheoryData<string, Action<RedisFleetOptions>> Invalid => new()
    {
        { "FleetName", o => o.FleetName = "" },
        { "FleetName", o => o.FleetName = "a{b}" },
        { "KeyPrefix", o => o.KeyPrefix = null! },
        { "KeyPrefix", o => o.KeyPrefix = "{x}" },
        { "LeaseTime", o => o.LeaseTime = TimeSpan.FromMilliseconds(100) },
        { "LeaseTime", o => o.LeaseTime = TimeSpan.FromDays(2) },
        { "ChunkSize", o => o.ChunkSize = 0 },
        { "ChunkSize", o => o.ChunkSize = 70000 },
        { "ExpectedInstances", o => o.ExpectedInstances = 0 },
        { "StaticShareFraction", o => o.StaticShareFraction = -0.1 },
        { "StaticShareFraction", o => o.StaticShareFraction = 1.5 },
        { "StaticShareFraction", o => o.StaticShareFraction = double.NaN },
        { "InstanceId", o => o.InstanceId = " " },
        { "InstanceId", o => o.InstanceId = new string('x', 201) },
        { "RecoveryWindow", o => o.RecoveryWindow = TimeSpan.FromSeconds(-1) },
        { "WaitRetryInterval", o => o.WaitRetryInterval = TimeSpan.Zero },
        { "RequestTimeout", o => o.RequestTimeout = TimeSpan.FromMinutes(2) },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void Validate_ABadSetting_NamesIt(string field, Action<RedisFleetOptions> spoil)
    {
        var options = Valid();
        spoil(options);

        var failure = Assert.Single(options.Validate());
        Assert.StartsWith(field + ":", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_BadOptions_ThrowsNamingEverySetting()
    {
        var redis = Substitute.For<IConnectionMultiplexer>();

        var error = Assert.Throws<ArgumentException>(() => new RedisFleetBudget(redis, new RedisFleetOptions { ChunkSize = 0 }));

        Assert.Contains("FleetName:", error.Message, StringComparison.Ordinal);
        Assert.Contains("ChunkSize:", error.Message, StringComparison.Ordinal);
        Assert.Contains("ExpectedInstances:", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_CopiesTheOptions_AndGeneratesAnInstanceIdPerBudget()
    {
        var redis = Substitute.For<IConnectionMultiplexer>();
        var options = Valid();
        var first = new RedisFleetBudget(redis, options);
        var second = new RedisFleetBudget(redis, options);
        options.FleetName = "changed";

        Assert.Equal("crawlers", first.FleetName);
        Assert.StartsWith(Environment.MachineName + ":" + Environment.ProcessId + ":", first.InstanceId, StringComparison.Ordinal);
        Assert.NotEqual(first.InstanceId, second.InstanceId);
    }
}
