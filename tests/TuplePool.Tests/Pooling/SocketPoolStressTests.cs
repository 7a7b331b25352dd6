using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>Many acquirers against a small budget with invalidations and cancellations; every counter must end exact.</summary>
public sealed class SocketPoolStressTests
{
    [Fact]
    public async Task AcquireAndRelease_ManyTasksWithInvalidationsAndCancellations_LeaveEveryCounterExact()
    {
        await using var server = new LoopbackServer();
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(2),
            LocalPortRange = PortSlices.Next(40),
            MaxIdlePerDestination = 8,
            AcquireTimeout = TimeSpan.FromSeconds(20),
            CloseMode = CloseMode.Abortive,
        };
        using var logs = new Microsoft.Extensions.Logging.Testing.FakeLoggerProvider();
        using var loggerFactory = new Microsoft.Extensions.Logging.LoggerFactory([logs]);
        await using var pool = new SocketPool(options, null, loggerFactory);
        var capacity = 2 * pool.CapacityPerTuple;
        var concurrent = 0;
        var maxConcurrent = 0;
        var completed = 0;
        var cancelled = 0;

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            for (var i = 0; i < 150; i++)
            {
                using var cts = new CancellationTokenSource();
                if (random.Next(10) == 0)
                {
                    cts.CancelAfter(random.Next(0, 3));
                }

                SocketLease lease;
                try
                {
                    lease = await pool.AcquireAsync(server.EndPoint, cts.Token);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                    continue;
                }

                var now = Interlocked.Increment(ref concurrent);
                var seen = Volatile.Read(ref maxConcurrent);
                while (now > seen && Interlocked.CompareExchange(ref maxConcurrent, now, seen) != seen)
                {
                    seen = Volatile.Read(ref maxConcurrent);
                }

                Assert.True(lease.Socket.Connected);
                if (random.Next(2) == 0)
                {
                    await Task.Yield();
                }

                Interlocked.Decrement(ref concurrent);
                if (random.Next(5) == 0)
                {
                    lease.Invalidate();
                }

                lease.Dispose();
                Interlocked.Increment(ref completed);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => Task.Run(() => Worker(i))));

        Assert.InRange(maxConcurrent, 1, capacity);
        Assert.Equal(64 * 150, completed + cancelled);
        var snapshot = pool.GetSnapshot();
        Assert.Equal(0, snapshot.TotalActive);
        Assert.InRange(snapshot.TotalIdle, 0, options.MaxIdlePerDestination);
        Assert.Equal(0, snapshot.TotalTimeWait); // abortive closes leave none
        Assert.All(snapshot.Tuples, t => Assert.True(t.Capacity - t.Idle == t.Remaining, string.Join("\n", logs.Collector.GetSnapshot().Select(r => r.Message).Take(5))));

        // The server holds exactly the sockets the pool keeps idle.
        for (var i = 0; i < 200 && server.Open != snapshot.TotalIdle; i++)
        {
            await Task.Delay(10);
        }

        Assert.Equal(snapshot.TotalIdle, server.Open);
    }
}
