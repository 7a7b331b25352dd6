using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// What a <see cref="SocketLease"/> guarantees beside its socket: a default lease says it was never
/// acquired, a stale copy cannot touch the lease the next borrower holds, and a lease nobody
/// disposed gives its budget back once it is collected. Real loopback sockets in the test's own
/// port slice (<see cref="LoopbackPool"/>), a fake clock.
/// </summary>
public sealed class SocketLeaseTests
{
    private static SocketPool CreateSut(TimeProvider time, int capacity = 10)
        => LoopbackPool.Create(time, capacity, CloseMode.Abortive);

    [Fact]
    public void DefaultLease_Stream_SaysTheLeaseWasNeverAcquired()
    {
        var error = Assert.Throws<ObjectDisposedException>(() => default(SocketLease).Stream);

        Assert.Contains("never acquired", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StaleLeaseCopy_CannotInvalidateTheNextBorrowersLease()
    {
        // The stale copy is refused before it sets anything: a flag it set would pass to the next lease.
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        var first = await pool.AcquireAsync(server.EndPoint);
        var stale = first;
        first.Dispose();
        var next = await pool.AcquireAsync(server.EndPoint);
        Assert.True(next.IsReused);

        Assert.Throws<ObjectDisposedException>(stale.Invalidate);
        next.Dispose();

        Assert.Equal(1, pool.GetSnapshot().TotalIdle); // kept, not closed
        await using var again = await pool.AcquireAsync(server.EndPoint);
        Assert.True(again.IsReused);
    }

    [Fact]
    public async Task AbandonedLease_OnceCollected_TheReaperFreesItsBudget()
    {
        // A lease never disposed must not hold its ledger and open count for good.
        var time = new FakeTimeProvider();
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(time, capacity: 1);
        await AcquireAndReturnAsync(pool, server.EndPoint);
        await Task.Yield(); // off the connect's continuation, whose frames still hold the lease
        AbandonAnIdleHit(pool, server.EndPoint);
        Assert.Equal(1, pool.GetSnapshot().TotalActive);

        // The idle hit lent its stripe's resident, which its slot holds while lent: a sweep lets
        // go of it (IdleStore.ReleaseLeasedResidents), and a collection after that finds the lease.
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1)); // at least one sweep
        }

        Assert.Equal(1, pool.GetSnapshot().TotalActive);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1)); // at least one sweep
        }

        var usage = Assert.Single(pool.GetSnapshot().Tuples);
        Assert.Equal(0, usage.Active);
        Assert.Equal(0, usage.Idle);
        Assert.Equal(1, usage.TimeWait); // freed, charged on the safe side
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task AcquireAndReturnAsync(SocketPool pool, IPEndPoint destination) => (await pool.AcquireAsync(destination)).Dispose();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AbandonAnIdleHit(SocketPool pool, IPEndPoint destination)
    {
        var hit = pool.AcquireAsync(destination);
        Assert.True(hit.IsCompletedSuccessfully);
        _ = hit.Result.LocalEndPoint; // leased, then dropped without Dispose
    }
}
