using System.Net;
using System.Net.Sockets;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// Many callers on real loopback sockets, each test built so that a lost wake-up, a leaked lease
/// or a ledger that drifts from the kernel makes it fail: the cap is far below the number of
/// callers, the acquire timeout is short next to how long a fair wait takes, and every counter
/// is checked against the server and the kernel afterwards.
/// </summary>
public sealed class SocketPoolStressTests
{
    private const int Workers = 32;
    private const int Rounds = 150;

    // A fair wait here is a few hand-overs of a lease held across one Task.Yield: well under 100 ms
    // even on a loaded two-core machine. A caller that was never woken sleeps out the whole
    // timeout and fails with TupleBudgetExhaustedException, which these tests count as a failure.
    private static readonly TimeSpan ShortAcquireTimeout = TimeSpan.FromSeconds(3);

    // Every caller must be done within this, or the test fails instead of hanging.
    private static readonly TimeSpan RunBound = TimeSpan.FromSeconds(120);

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public async Task ManyCallers_MaxConnectionsPerDestination_NoneWaitsOutTheTimeoutAndCountersEndExact(int cap)
    {
        await using var server = new LoopbackServer();
        var slice = PortSlices.Next(40);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(2),
            LocalPortRange = slice,
            MaxConnectionsPerDestination = cap,
            MaxIdlePerDestination = 8,
            AcquireTimeout = ShortAcquireTimeout,
            CloseMode = CloseMode.Abortive,
        };
        await using var pool = new SocketPool(options);
        var tally = new Tally();

        await RunAsync(Workers, Rounds, async random =>
        {
            using var cts = new CancellationTokenSource();
            if (random.Next(10) == 0)
            {
                cts.CancelAfter(random.Next(0, 3));
            }

            var lease = await tally.AcquireAsync(pool, server.EndPoint, cts.Token);
            if (lease is not { } held)
            {
                return;
            }

            await UseAsync(held, random, tally);
            if (random.Next(5) == 0)
            {
                // Abortive close: frees the tuple at once and must wake the next caller.
                held.Invalidate();
            }

            held.Dispose();
        });

        tally.AssertOnlyLeasesAndCancellations(Workers * Rounds);
        Assert.Equal(cap, tally.MaxConcurrent); // the cap was reached, and never passed
        await AssertAtRestAsync(pool, server, slice, maxIdle: Math.Min(cap, options.MaxIdlePerDestination));
    }

    [Fact]
    public async Task GracefulClosesAndTheReaper_UnderLoad_EveryOutcomeTypedAndLedgerMatchesKernel()
    {
        // Graceful closes leave TIME_WAIT on a 2 x 100-port budget; a 30 ms idle timeout keeps the
        // reaper closing sockets while callers take them. Refusals are legitimate here (the
        // budget can fill with TIME_WAIT), but only the typed one.
        await using var server = new LoopbackServer();
        var slice = PortSlices.Next(100);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(2),
            LocalPortRange = slice,
            MaxConnectionsPerDestination = 16,
            MaxIdlePerDestination = 4,
            IdleTimeout = TimeSpan.FromMilliseconds(30),
            AcquireTimeout = ShortAcquireTimeout,
            CloseMode = CloseMode.Graceful,
        };
        await using var pool = new SocketPool(options);
        var tally = new Tally();

        await RunAsync(Workers, 60, async random =>
        {
            var lease = await tally.AcquireAsync(pool, server.EndPoint, CancellationToken.None);
            if (lease is not { } held)
            {
                return;
            }

            await UseAsync(held, random, tally);
            if (random.Next(8) == 0)
            {
                held.Invalidate();
            }

            if (random.Next(4) == 0)
            {
                // Idle past the timeout, so the reaper and the next caller race for the socket.
                held.Dispose();
                await Task.Delay(random.Next(20, 60));
                return;
            }

            held.Dispose();
        });

        tally.AssertTyped(Workers * 60);
        Assert.True(tally.Leases > 0, "no caller got a lease");
        Assert.InRange(tally.MaxConcurrent, 1, options.MaxConnectionsPerDestination);

        // The reaper empties the idle store within a few ticks once nobody takes from it.
        Assert.True(await server.WaitUntilAsync(s => s.Open == 0 && pool.GetSnapshot().TotalIdle == 0, TimeSpan.FromSeconds(30)), $"server holds {server.Open}, pool idles {pool.GetSnapshot().TotalIdle}");
        // The reaper releases the ledger just after the close the server saw.
        Assert.True(await Eventually.TrueAsync(() => pool.GetSnapshot().TotalActive == 0), $"{pool.GetSnapshot().TotalActive} still active with every caller done");
        var established = await KernelSockets.WaitForCountAsync(slice, server.EndPoint, TcpState.Established, n => n == 0);
        Assert.True(established == 0, $"{established} sockets of the slice still established with nothing leased or idle");

        // Every TIME_WAIT the pool still charges is one the kernel really holds on this slice
        // (the kernel keeps them for 60 s; the pool may stop charging after tcp_tw_reuse's delay).
        var kernelTimeWait = KernelSockets.Count(slice, server.EndPoint, TcpState.TimeWait);
        Assert.InRange(pool.GetSnapshot().TotalTimeWait, 0, kernelTimeWait);

        // Remaining is what TIME_WAIT leaves, less a short hold on ports the kernel refused.
        Assert.All(pool.GetSnapshot().Tuples, t => Assert.InRange(t.Remaining, 0, t.Capacity - t.TimeWait));
    }

    [Fact]
    public async Task DisposeAsync_UnderLoad_EveryCallerEndsTypedAndNothingIsLeftOpen()
    {
        await using var server = new LoopbackServer();
        var slice = PortSlices.Next(40);
        var pool = new SocketPool(new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(2),
            LocalPortRange = slice,
            MaxConnectionsPerDestination = 4,
            AcquireTimeout = ShortAcquireTimeout,
            CloseMode = CloseMode.Abortive,
        });
        var tally = new Tally();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var run = RunAsync(Workers, 400, async random =>
        {
            var lease = await tally.AcquireAsync(pool, server.EndPoint, CancellationToken.None);
            if (lease is not { } held)
            {
                return;
            }

            if (tally.Leases >= 200)
            {
                started.TrySetResult();
            }

            await UseAsync(held, random, tally, pool);
            held.Dispose(); // after the pool's disposal too: must close, never throw
        });

        // Dispose once the pool is busy, with callers waiting, connecting and holding leases.
        await started.Task.WaitAsync(RunBound, TestContext.Current.CancellationToken);
        await pool.DisposeAsync();
        await run;

        tally.AssertTyped(Workers * 400);
        Assert.True(tally.Disposed > 0, "no caller saw the disposal");
        Assert.Equal(0, tally.Other);

        // Nothing survives the pool: the server sees every socket closed, and so does the kernel.
        Assert.True(await server.WaitUntilAsync(s => s.Open == 0, TimeSpan.FromSeconds(30)), $"the server still holds {server.Open} sockets");
        Assert.Equal(0, await KernelSockets.WaitForCountAsync(slice, server.EndPoint, state: null, n => n == 0));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => pool.AcquireAsync(server.EndPoint).AsTask());
    }

    /// <summary>The pool at rest: nothing leased, the idle sockets are the server's open ones and the kernel's established ones.</summary>
    internal static async Task AssertAtRestAsync(SocketPool pool, LoopbackServer server, PortRange slice, int maxIdle)
    {
        // A port of the slice held by another process (a listener on port 0, say) makes the kernel
        // refuse one connect; the pool then holds that port for a second (its census correction).
        // Past that, every port not idle must be free again: a leaked reservation never is.
        Assert.True(
            await Eventually.TrueAsync(() => pool.GetSnapshot().Tuples.All(t => t.Remaining == t.Capacity - t.Idle), TimeSpan.FromSeconds(10)),
            string.Join("; ", pool.GetSnapshot().Tuples));
        var snapshot = pool.GetSnapshot();
        Assert.Equal(0, snapshot.TotalActive);
        Assert.InRange(snapshot.TotalIdle, 0, maxIdle);
        Assert.Equal(0, snapshot.TotalTimeWait); // abortive closes leave none
        Assert.True(await server.WaitUntilAsync(s => s.Open == snapshot.TotalIdle, TimeSpan.FromSeconds(30)), $"server holds {server.Open}, pool idles {snapshot.TotalIdle}");
        Assert.Equal(snapshot.TotalIdle, await KernelSockets.WaitForCountAsync(slice, server.EndPoint, state: null, n => n == snapshot.TotalIdle));
        Assert.Equal(snapshot.TotalIdle, KernelSockets.Count(slice, server.EndPoint, TcpState.Established));
    }

    internal static async Task RunAsync(int workers, int rounds, Func<Random, Task> round)
    {
        var all = Task.WhenAll(Enumerable.Range(0, workers).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            for (var i = 0; i < rounds; i++)
            {
                await round(random);
            }
        })));
        await all.WaitAsync(RunBound, TestContext.Current.CancellationToken);
    }

    private static async Task UseAsync(SocketLease lease, Random random, Tally tally, SocketPool? disposing = null)
    {
        var now = Interlocked.Increment(ref tally.Concurrent);
        tally.SeeConcurrent(now);
        try
        {
            // A leased socket is connected and really ours: one byte to the server must go out.
            Assert.True(lease.Socket.Connected);
            if (disposing is null || random.Next(2) == 0)
            {
                await lease.Socket.SendAsync(new byte[] { 1 }, SocketFlags.None);
            }

            if (random.Next(2) == 0)
            {
                await Task.Yield();
            }
        }
        catch (SocketException) when (disposing is not null)
        {
            // The pool does not close leased sockets on disposal, but the server may reset them.
        }
        finally
        {
            Interlocked.Decrement(ref tally.Concurrent);
        }
    }

    /// <summary>Counts how each acquire ended.</summary>
    internal sealed class Tally
    {
        public int Concurrent;
        private int _maxConcurrent;
        private int _leases;
        private int _cancelled;
        private int _exhausted;
        private int _disposed;
        private int _other;
        private Exception? _firstOther;

        public int Leases => Volatile.Read(ref _leases);

        public int Cancelled => Volatile.Read(ref _cancelled);

        public int Exhausted => Volatile.Read(ref _exhausted);

        public int Disposed => Volatile.Read(ref _disposed);

        public int Other => Volatile.Read(ref _other);

        public int MaxConcurrent => Volatile.Read(ref _maxConcurrent);

        public void SeeConcurrent(int now)
        {
            var seen = Volatile.Read(ref _maxConcurrent);
            while (now > seen && Interlocked.CompareExchange(ref _maxConcurrent, now, seen) != seen)
            {
                seen = Volatile.Read(ref _maxConcurrent);
            }
        }

        public async Task<SocketLease?> AcquireAsync(SocketPool pool, EndPoint destination, CancellationToken cancellationToken)
        {
            try
            {
                var lease = await pool.AcquireAsync(destination, cancellationToken);
                Interlocked.Increment(ref _leases);
                return lease;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _cancelled);
            }
            catch (TupleBudgetExhaustedException)
            {
                Interlocked.Increment(ref _exhausted);
            }
            catch (ObjectDisposedException)
            {
                Interlocked.Increment(ref _disposed);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref _firstOther, e, null);
                Interlocked.Increment(ref _other);
            }

            return null;
        }

        /// <summary>Every acquire got a lease or was cancelled by its caller: no refusal, no stray error.</summary>
        public void AssertOnlyLeasesAndCancellations(int expected)
        {
            Assert.True(Other == 0, $"{Other} untyped failures, first: {_firstOther}");
            Assert.True(Exhausted == 0, $"{Exhausted} callers waited out the {ShortAcquireTimeout.TotalSeconds} s acquire timeout with room to spare (lost wake-up)");
            Assert.Equal(0, Disposed);
            Assert.Equal(expected, Leases + Cancelled);
        }

        /// <summary>Every acquire ended in a lease, a cancellation, the typed refusal or the disposal.</summary>
        public void AssertTyped(int expected)
        {
            Assert.True(Other == 0, $"{Other} untyped failures, first: {_firstOther}");
            Assert.Equal(expected, Leases + Cancelled + Exhausted + Disposed);
        }
    }
}
