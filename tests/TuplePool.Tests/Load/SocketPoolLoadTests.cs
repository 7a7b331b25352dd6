using TuplePool.Tests.Pooling;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Load;

/// <summary>
/// 10,000 concurrent callers against a budget of 100 ports (one source, one listener): 100 client
/// sockets and 100 accepted ones at most, well inside the 20,000-descriptor limit.
/// </summary>
public sealed class SocketPoolLoadTests
{
    private const int Callers = 10_000;
    private const int Ports = 100;

    [Fact]
    public async Task TenThousandCallers_HundredPortBudget_EachGetsALeaseTheTypedRefusalOrItsCancellation()
    {
        await using var server = new LoopbackServer();
        var slice = PortSlices.Next(Ports);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = slice,
            MaxIdlePerDestination = Ports,
            // Short enough that a part of the queue of 10,000 times out (the typed refusal), long
            // enough that many are served first.
            AcquireTimeout = TimeSpan.FromMilliseconds(750),
            CloseMode = CloseMode.Abortive,
        };
        await using var pool = new SocketPool(options);
        var tally = new SocketPoolStressTests.Tally();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var callers = Enumerable.Range(0, Callers).Select(i => Task.Run(async () =>
        {
            var random = new Random(i);
            using var cts = new CancellationTokenSource();
            await gate.Task;
            if (i % 10 == 0)
            {
                // A tenth of the callers give up on their own, some at once, some while queued.
                cts.CancelAfter(random.Next(0, 200));
            }

            var lease = await tally.AcquireAsync(pool, server.EndPoint, cts.Token);
            if (lease is not { } held)
            {
                return;
            }

            tally.SeeConcurrent(Interlocked.Increment(ref tally.Concurrent));
            Assert.True(held.Socket.Connected);

            // Held for a real moment (0–2 ms) so a queue forms even on an idle machine: with only
            // a yield, 10,000 callers are served in a few milliseconds and no cancellation, due
            // 0–200 ms after the start, finds anyone still waiting.
            await Task.Delay(random.Next(0, 3));
            Interlocked.Decrement(ref tally.Concurrent);
            if (i % 7 == 0)
            {
                held.Invalidate();
            }

            held.Dispose();
        })).ToList();

        gate.SetResult();
        await Task.WhenAll(callers).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);

        tally.AssertTyped(Callers);
        Assert.Equal(0, tally.Disposed);
        Assert.True(tally.Leases > Ports, $"only {tally.Leases} leases: the budget was not reused");
        Assert.True(tally.Cancelled > 0, "no cancellation took effect");
        Assert.InRange(tally.MaxConcurrent, 1, Ports);
        TestContext.Current.TestOutputHelper?.WriteLine($"10,000 callers: {tally.Leases} leases, {tally.Exhausted} typed refusals, {tally.Cancelled} cancelled, {tally.MaxConcurrent} at once");
        await SocketPoolStressTests.AssertAtRestAsync(pool, server, slice, maxIdle: Ports);
    }
}
