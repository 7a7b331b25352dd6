using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Options;
using TuplePool.Platform;
using TuplePool.Pooling;
using TuplePool.Sources;
using TuplePool.Telemetry;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// One destination on its own, behind a substitute <see cref="IDestinationOwner"/>: lending,
/// hand-off, the line's limit, retirement and abandoned leases. Real loopback sockets, a fake clock.
/// </summary>
public sealed class DestinationPoolTests : IAsyncLifetime
{
    private readonly FakeTimeProvider _time = new();
    private readonly IDestinationOwner _owner = CreateOwner();
    private readonly LoopbackServer _server = new();
    private readonly List<TuplePoolMetrics> _metrics = [];
    private TupleBudget? _budget;

    public ValueTask InitializeAsync() => default;

    public async ValueTask DisposeAsync()
    {
        _metrics.ForEach(m => m.Dispose());
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task AcquireAsync_AfterAReturn_CompletesSynchronouslyWithTheSameSocket()
    {
        var pool = CreateSut();
        var first = await pool.AcquireAsync(default);
        var local = first.LocalEndPoint;
        first.Dispose();
        Assert.Equal(1, pool.IdleCount);

        var again = pool.AcquireAsync(default);

        Assert.True(again.IsCompletedSuccessfully);
        var lease = await again;
        Assert.True(lease.IsReused);
        Assert.Equal(local, lease.LocalEndPoint);
        Assert.Equal(1, pool.OpenCount);
    }

    [Fact]
    public async Task Return_WhileACallerWaits_HandsTheConnectionStraightToIt()
    {
        var pool = CreateSut(capacity: 1);
        var held = await pool.AcquireAsync(default);
        var local = held.LocalEndPoint;
        var waiting = pool.AcquireAsync(default).AsTask();
        await PoolWait.UntilAsync(() => pool.PendingAcquires == 1);

        held.Dispose();

        Assert.Equal(0, pool.IdleCount); // it never went through the store, where a newcomer could take it
        var lease = await waiting;
        Assert.True(lease.IsReused);
        Assert.Equal(local, lease.LocalEndPoint);
        Assert.Equal(0, pool.PendingAcquires);
    }

    [Fact]
    public async Task Close_WakesAnotherDestinationWaitingOnTheAddress_NotOneThatIsNot()
    {
        var pool = CreateSut();
        var lease = await pool.AcquireAsync(default);
        var waiting = Substitute.For<IRoomWatcher>();
        waiting.Waiting.Returns(1);
        var elsewhere = Substitute.For<IRoomWatcher>();
        elsewhere.Waiting.Returns(1);
        Assert.True(_budget!.For(new IPEndPoint(_server.EndPoint.Address, _server.EndPoint.Port)).Watch(waiting));
        Assert.True(_budget.For(new IPEndPoint(_server.EndPoint.Address, _server.EndPoint.Port + 1)).Watch(elsewhere));

        lease.Invalidate();
        lease.Dispose();

        waiting.Received(1).RoomMayBeFree();
        elsewhere.DidNotReceive().RoomMayBeFree();
        Assert.Equal(0, pool.OpenCount);
    }

    [Fact]
    public async Task TryRetire_OnlyWhenNothingIsOpenAndNothingHappenedForEvictAfter()
    {
        var pool = CreateSut();
        var lease = await pool.AcquireAsync(default);
        var later = _time.GetTimestamp() + (long)(TuplePoolDefaults.EmptyDestinationTimeout.TotalSeconds * _time.TimestampFrequency) + 1;
        Assert.False(pool.TryRetire(later)); // a connection is out

        lease.Invalidate();
        lease.Dispose();
        Assert.False(pool.TryRetire(_time.GetTimestamp())); // empty, but just now
        _time.Advance(TuplePoolDefaults.EmptyDestinationTimeout);
        Assert.True(pool.TryRetire(_time.GetTimestamp()));
        Assert.True(pool.IsRetired);
    }

    [Fact]
    public async Task AcquireAsync_OnARetiredDestination_GoesToItsSuccessor()
    {
        var pool = CreateSut();
        _time.Advance(TuplePoolDefaults.EmptyDestinationTimeout);
        Assert.True(pool.TryRetire(_time.GetTimestamp()));
        var successor = CreateSut();
        var expected = await successor.AcquireAsync(default);
        _owner.AcquireAgainAsync(pool, Arg.Any<TimeSpan>(), AcquirePurpose.Caller, Arg.Any<CancellationToken>()).Returns(new ValueTask<SocketLease>(expected));

        var lease = await pool.AcquireAsync(default);

        Assert.Equal(expected.LocalEndPoint, lease.LocalEndPoint);
        await _owner.Received(1).AcquireAgainAsync(pool, Arg.Any<TimeSpan>(), AcquirePurpose.Caller, Arg.Any<CancellationToken>());
        Assert.Equal(0, pool.OpenCount);
        lease.Dispose();
    }

    private static IDestinationOwner CreateOwner()
    {
        var owner = Substitute.For<IDestinationOwner>();
        owner.UsageFor(Arg.Any<IReadOnlyList<IPEndPoint>>()).Returns(new BudgetUsage([], []));
        return owner;
    }

    [Fact]
    public async Task MaxPendingAcquires_ACallerPastTheLimit_IsRefusedAtOnce()
    {
        var pool = CreateSut(capacity: 1, configure: o => o.MaxPendingAcquires = 2);
        var held = await pool.AcquireAsync(default);
        var waiting = new[] { pool.AcquireAsync(default).AsTask(), pool.AcquireAsync(default).AsTask() };
        await PoolWait.UntilAsync(() => pool.PendingAcquires == 2);

        var refused = pool.AcquireAsync(default);

        Assert.True(refused.IsCompleted); // no wait at all
        var error = await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => refused.AsTask());
        Assert.True(error.WaitLineFull);
        Assert.Contains("the wait line is full", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, pool.PendingAcquires);

        held.Dispose();
        (await waiting[0]).Dispose();
        (await waiting[1]).Dispose();
        Assert.Equal(0, pool.PendingAcquires);
    }

    [Fact]
    public async Task AbandonedLease_OnceCollected_FreesItsPortAndSlot()
    {
        // a lease never disposed (an HttpResponseMessage never disposed) held its
        // ledger and open count for good.
        var pool = CreateSut(configure: o => o.MaxConnectionsPerDestination = 1);
        await AcquireAndReturnAsync(pool);

        // The connect's continuation ran this test on, above the frames that held the lease: leave them.
        await Task.Yield();
        AbandonAnIdleHit(pool);
        Assert.Equal(1, pool.OpenCount);

        // The idle hit lent its stripe's resident, which stays in its slot while lent: the first
        // sweep lets go of it, and the collection after that finds the lease.
        pool.Reap([], []);
        Assert.Equal(1, pool.OpenCount);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        pool.Reap([], []);

        Assert.Equal(0, pool.OpenCount);
        var ledger = Assert.Single(_budget!.Ledgers);
        Assert.Equal(0, ledger.Open);
        Assert.Equal(1, ledger.TimeWait); // how the finalizer closed it is unknown: the safe side
        var next = await pool.AcquireAsync(default); // the only slot is free again
        Assert.False(next.IsReused);
        next.Dispose();
    }

    [Fact]
    public async Task Reap_ALeaseStillHeld_IsNotTakenForAbandoned()
    {
        var pool = CreateSut();
        var lease = await pool.AcquireAsync(default);

        GC.Collect();
        pool.Reap([], []);

        Assert.Equal(1, pool.OpenCount);
        Assert.True(lease.Socket.Connected);
        lease.Dispose();
    }

    [Fact]
    public async Task ManyCallersOneSlot_InvalidationsAndCancellations_NobodyIsLeftAsleep()
    {
        // A lost wake-up shows as a caller asleep for good: the fake clock never ends a wait.
        var pool = CreateSut(configure: o =>
        {
            o.MaxConnectionsPerDestination = 1;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });
        var completed = 0;
        var cancelled = 0;

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            for (var i = 0; i < 40; i++)
            {
                using var cts = new CancellationTokenSource();
                if (random.Next(8) == 0)
                {
                    cts.Cancel();
                }

                SocketLease lease;
                try
                {
                    lease = await pool.AcquireAsync(cts.Token);
                }
                catch (OperationCanceledException)
                {
                    Interlocked.Increment(ref cancelled);
                    continue;
                }

                if (random.Next(2) == 0)
                {
                    await Task.Yield();
                }

                if (random.Next(4) == 0)
                {
                    lease.Invalidate(); // a close, not a return: the wake is a "try again"
                }

                lease.Dispose();
                Interlocked.Increment(ref completed);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Worker(i)))).WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(16 * 40, completed + cancelled);
        Assert.Equal(0, pool.PendingAcquires);
        Assert.InRange(pool.OpenCount, 0, 1);
        Assert.Equal(pool.IdleCount, pool.OpenCount);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task AcquireAndReturnAsync(DestinationPool pool) => (await pool.AcquireAsync(default)).Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AbandonAnIdleHit(DestinationPool pool)
    {
        var hit = pool.AcquireAsync(default);
        Assert.True(hit.IsCompletedSuccessfully);
        _ = hit.Result.LocalEndPoint; // leased, then dropped without Dispose
    }

    private DestinationPool CreateSut(int capacity = 10, Action<TuplePoolOptions>? configure = null)
    {
        var slice = PortSlices.Next(20);
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(1),
            LocalPortRange = new PortRange(slice.First, slice.First + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(300),
            CloseMode = CloseMode.Abortive,
        };
        configure?.Invoke(options);
        var kernel = TestKernel.Create();
        var settings = new PoolSettings(options, _time);
        var budget = _budget = new TupleBudget(kernel, options, _time);
        var selector = new SourceSelector(options.SourceAddresses, options.SourceSelection, options.SourceQuarantine, budget, _time);
        var metrics = new TuplePoolMetrics(null);
        _metrics.Add(metrics);
        var opener = new ConnectionOpener(selector, new SocketConnector(kernel, slice), Substitute.For<IKernelCensus>(), metrics, NullLogger.Instance, _time, options);
        var tuples = new TupleLookup(selector, budget, _time);
        var errors = new AcquireErrors(new RefusalRecord(_time), metrics, NullLogger.Instance, options.AcquireTimeout, _time);
        var context = new PoolContext(settings, opener, tuples, errors, metrics, WaiterPolicy.CreatePool(_time), NullLogger.Instance);
        var destination = new IPEndPoint(_server.EndPoint.Address, _server.EndPoint.Port);
        var resolver = new AddressResolver(destination, tuples.HasSourceFor, _time, options.DnsRefreshInterval, options.ConnectTimeout, NullLogger.Instance);
        return new DestinationPool(destination, context, _owner, opener.CreatePipeline(destination), resolver);
    }
}
