using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
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
        await using var pool = TestPools.Unprobed(
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
        Assert.Equal(nameof(RefusalCause.ActiveConnections), record.GetStructuredStateValue("Cause"));
        Assert.Contains("held by this pool's open connections", record.Message, StringComparison.Ordinal);
        Assert.Contains("Dispose each SocketLease", record.Message, StringComparison.Ordinal);
        foreach (var lease in held)
        {
            lease.Dispose();
        }
    }

    [Fact]
    public async Task Exhaustion_RefusalsInABurst_OneLinePerFiveSeconds_TheNextCountsTheRest()
    {
        // Unthrottled, events 3 and 4 come at ~115 lines/s during an exhaustion.
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(
            new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Next(1), MaxPendingAcquires = 1, AcquireTimeout = Timeout.InfiniteTimeSpan },
            time,
            _loggerFactory);
        var held = await pool.AcquireAsync(server.EndPoint);
        var waiting = pool.AcquireAsync(server.EndPoint).AsTask();
        await Pooling.PoolWait.UntilPendingAsync(pool, 1);

        for (var i = 0; i < 5; i++)
        {
            await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask()); // the wait line is full
        }

        var burst = Events(4);
        time.Advance(TimeSpan.FromSeconds(5));
        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());

        Assert.Equal("0", Assert.Single(burst).GetStructuredStateValue("Suppressed"));
        var next = Events(4)[1];
        Assert.Equal("4", next.GetStructuredStateValue("Suppressed"));
        Assert.Contains("(4 more refusals to this destination not logged since the previous line.)", next.Message, StringComparison.Ordinal);
        Assert.Equal(6, pool.GetSnapshot().RefusedAcquires); // every refusal still counted
        held.Dispose();
        (await waiting).Dispose();
    }

    [Fact]
    public async Task TupleAboveNinetyPercent_CrossingAgainWithinFiveSeconds_IsHeldBack_AndCountedInTheNextLine()
    {
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = new SocketPool(
            new TuplePoolOptions { SourceAddresses = TestSources.Take(1), LocalPortRange = PortSlices.Next(10), CloseMode = CloseMode.Abortive },
            time,
            _loggerFactory);

        await CrossAsync(pool, server.EndPoint); // logged
        await CrossAsync(pool, server.EndPoint); // within 5 s: held back
        time.Advance(TimeSpan.FromSeconds(5));
        await CrossAsync(pool, server.EndPoint); // logged, counting the one held back

        var lines = Events(3);
        Assert.Equal(2, lines.Count);
        Assert.Equal("0", lines[0].GetStructuredStateValue("Suppressed"));
        Assert.Equal("1", lines[1].GetStructuredStateValue("Suppressed"));
        Assert.Contains("(1 more crossings of this tuple not logged since the previous line.)", lines[1].Message, StringComparison.Ordinal);

        // Ten new connections (above 90 %), then all closed (below 80 %): one crossing.
        static async Task CrossAsync(SocketPool pool, EndPoint destination)
        {
            var leases = new List<SocketLease>();
            for (var i = 0; i < 10; i++)
            {
                leases.Add(await pool.AcquireAsync(destination));
            }

            foreach (var lease in leases)
            {
                lease.Invalidate();
                lease.Dispose();
            }
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
