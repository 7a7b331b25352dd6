using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Telemetry;

/// <summary>The pool's source-generated log events, with their stable ids, from real situations.</summary>
public sealed class LogTests : IDisposable
{
    private readonly FakeLoggerProvider _logs = new();
    private readonly LoggerFactory _loggerFactory;

    public LogTests() => _loggerFactory = new LoggerFactory([_logs]);

    public void Dispose()
    {
        _loggerFactory.Dispose();
        _logs.Dispose();
    }

    private IReadOnlyList<FakeLogRecord> Events(int id) => _logs.Collector.GetSnapshot().Where(r => r.Id.Id == id).ToList();

    [Fact]
    public async Task UnbindableSource_IsLoggedAsQuarantined()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(
            new TuplePoolOptions { SourceAddresses = [IPAddress.Parse("192.0.2.1"), TestSources.S2], LocalPortRange = PortSlices.Next(10) },
            null,
            _loggerFactory);

        (await pool.AcquireAsync(server.EndPoint)).Dispose();

        var record = Assert.Single(Events(1));
        Assert.Equal(LogLevel.Warning, record.Level);
        Assert.Contains("192.0.2.1", record.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TupleAboveNinetyPercent_IsLoggedOnce()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(
            new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Next(10) },
            null,
            _loggerFactory);

        var leases = new List<SocketLease>();
        for (var i = 0; i < 10; i++)
        {
            leases.Add(await pool.AcquireAsync(server.EndPoint));
        }

        var record = Assert.Single(Events(3));
        Assert.Contains("127.0.0.2", record.Message, StringComparison.Ordinal);
        leases.ForEach(l => l.Dispose());
    }

    [Fact]
    public async Task Exhaustion_IsLoggedWithWhatToDo()
    {
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(
            new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Next(2), AcquireTimeout = TimeSpan.FromMilliseconds(100) },
            null,
            _loggerFactory);
        var held = new[] { await pool.AcquireAsync(server.EndPoint), await pool.AcquireAsync(server.EndPoint) };

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        var record = Assert.Single(Events(4));
        Assert.Equal(LogLevel.Error, record.Level);
        Assert.Contains("Add source addresses", record.Message, StringComparison.Ordinal);
        foreach (var lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task PoolStarted_IsLoggedAtInformation_SeenAtTheDefaultLevel()
    {
        using var factory = LoggerFactory.Create(b => b.AddProvider(_logs).SetMinimumLevel(LogLevel.Information));
        var range = PortSlices.Next(10);

        await using var pool = new SocketPool(new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = range }, null, factory);

        var record = Assert.Single(Events(7));
        Assert.Equal(LogLevel.Information, record.Level);
        Assert.Contains($"port range {range} (10 ports per tuple)", record.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.2", record.Message, StringComparison.Ordinal);
    }
}
