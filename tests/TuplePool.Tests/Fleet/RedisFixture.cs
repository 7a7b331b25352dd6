using StackExchange.Redis;
using TuplePool.TestServers;

namespace TuplePool.Tests.Fleet;

/// <summary>
/// One redis-server child process per test class (its own port, so classes run side by side),
/// started before the class's first test and stopped after its last. When redis-server is not
/// installed there is no server and every test skips with <see cref="RedisServer.MissingReason"/>.
/// </summary>
public sealed class RedisFixture : IAsyncLifetime
{
    private RedisServer? _server;
    private ConnectionMultiplexer? _inspector;

    internal RedisServer Server => _server ?? throw new InvalidOperationException("no redis-server");

    /// <summary>A connection of the test's own, to look at the fleet's keys.</summary>
    /// <summary>The same connection, for tests that run the grant script themselves.</summary>
    internal IConnectionMultiplexer Client => _inspector ?? throw new InvalidOperationException("no redis-server");

    internal IDatabase Inspect => (_inspector ?? throw new InvalidOperationException("no redis-server")).GetDatabase();

    /// <summary>Every key of the fleet <paramref name="fleetName"/>.</summary>
    internal IReadOnlyList<string> KeysOf(string fleetName)
        => Client.GetServer(Server.EndPoint).Keys(pattern: "*" + fleetName + "*").Select(static k => (string)k!).ToList();

    /// <summary>Skips the calling test when redis-server is not installed.</summary>
    internal void SkipUnlessInstalled() => Assert.SkipWhen(RedisServer.MissingReason is not null, RedisServer.MissingReason ?? string.Empty);

    /// <summary>Kills the server, starts it again empty on its port, and waits until the test's own connection is back.</summary>
    internal async Task RestartEmptyAsync()
    {
        await Server.RestartEmptyAsync();
        var started = TimeProvider.System.GetTimestamp();
        while (true)
        {
            try
            {
                await Inspect.PingAsync();
                return;
            }
            catch (RedisConnectionException) when (TimeProvider.System.GetElapsedTime(started) < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(20);
            }
        }
    }

    public async ValueTask InitializeAsync()
    {
        if (RedisServer.MissingReason is null)
        {
            _server = await RedisServer.StartAsync();
            _inspector = await _server.ConnectAsync("tuplepool-test-inspector");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_inspector is not null)
        {
            await _inspector.DisposeAsync();
        }

        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
