using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;

namespace TuplePool.Tests.Budget;

public sealed class TupleLedgerTests
{
    private static readonly ConnectionTuple Tuple = new(IPAddress.Parse("127.0.0.2"), new IPEndPoint(IPAddress.Loopback, 9000));

    private static TupleLedger CreateSut(int capacity, TimeSpan timeWait, FakeTimeProvider time) => new(Tuple, capacity, timeWait, time);

    [Fact]
    public void TryReserve_UpToCapacity_ThenRefuses()
    {
        var time = new FakeTimeProvider();
        var ledger = CreateSut(3, TimeSpan.FromSeconds(60), time);

        Assert.True(ledger.TryReserve());
        Assert.True(ledger.TryReserve());
        Assert.True(ledger.TryReserve());
        Assert.False(ledger.TryReserve());
        Assert.Equal(3, ledger.Open);
        Assert.Equal(0, ledger.Remaining);
    }

    [Fact]
    public void Release_Free_GivesThePortBackAtOnce()
    {
        var time = new FakeTimeProvider();
        var ledger = CreateSut(1, TimeSpan.FromSeconds(60), time);
        Assert.True(ledger.TryReserve());

        ledger.Release(ReleaseKind.Free);

        Assert.Equal(0, ledger.TimeWait);
        Assert.True(ledger.TryReserve());
    }

    [Fact]
    public void Release_TimeWait_HoldsThePortUntilTheChargeExpires()
    {
        var time = new FakeTimeProvider();
        var ledger = CreateSut(1, TimeSpan.FromSeconds(60), time);
        Assert.True(ledger.TryReserve());

        ledger.Release(ReleaseKind.TimeWait);

        Assert.Equal(1, ledger.TimeWait);
        Assert.False(ledger.TryReserve());
        time.Advance(TimeSpan.FromSeconds(59.9));
        Assert.False(ledger.TryReserve());
        time.Advance(TimeSpan.FromSeconds(0.1));
        Assert.Equal(0, ledger.TimeWait);
        Assert.True(ledger.TryReserve());
    }

    [Fact]
    public void NextExpiryTimestamp_IsTheOldestTimeWaitEntry()
    {
        var time = new FakeTimeProvider();
        var ledger = CreateSut(5, TimeSpan.FromSeconds(10), time);
        Assert.Null(ledger.NextExpiryTimestamp);
        ledger.TryReserve();
        ledger.TryReserve();
        var first = time.GetTimestamp();
        ledger.Release(ReleaseKind.TimeWait);
        time.Advance(TimeSpan.FromSeconds(3));
        ledger.Release(ReleaseKind.TimeWait);

        Assert.Equal(first + (10 * time.TimestampFrequency), ledger.NextExpiryTimestamp);
    }

    [Fact]
    public void Release_WithoutReservation_Throws()
    {
        var ledger = CreateSut(1, TimeSpan.FromSeconds(60), new FakeTimeProvider());

        Assert.Throws<InvalidOperationException>(() => ledger.Release(ReleaseKind.Free));
    }

    [Fact]
    public void CorrectFromKernel_TreatsEveryPortWeDoNotHoldAsTakenUntilTheHoldEnds()
    {
        var time = new FakeTimeProvider();
        var ledger = CreateSut(10, TimeSpan.FromSeconds(60), time);
        Assert.True(ledger.TryReserve()); // a live connection
        Assert.True(ledger.TryReserve());
        ledger.Release(ReleaseKind.TimeWait); // one of ours in TIME_WAIT
        Assert.True(ledger.TryReserve()); // the attempt that met EADDRNOTAVAIL

        var ours = ledger.CorrectFromKernel(holdFor: TimeSpan.FromSeconds(1));
        ledger.Release(ReleaseKind.Free);

        Assert.Equal(2, ours);
        Assert.Equal(8, ledger.External);
        Assert.Equal(0, ledger.Remaining);
        Assert.False(ledger.TryReserve());
        Assert.Equal(time.GetTimestamp() + time.TimestampFrequency, ledger.NextExpiryTimestamp);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, ledger.External);
        Assert.Equal(8, ledger.Remaining);
    }

    [Fact]
    public void CrossedNinetyPercent_FiresOncePerCrossing()
    {
        var ledger = CreateSut(10, TimeSpan.FromSeconds(60), new FakeTimeProvider());
        var fired = 0;
        for (var i = 0; i < 10; i++)
        {
            ledger.TryReserve();
            fired += ledger.CrossedNinetyPercent() ? 1 : 0;
        }

        Assert.Equal(1, fired);
        for (var i = 0; i < 3; i++)
        {
            ledger.Release(ReleaseKind.Free);
        }

        Assert.False(ledger.CrossedNinetyPercent()); // 7 of 10: below 80 %, re-armed
        ledger.TryReserve();
        ledger.TryReserve();
        ledger.TryReserve();
        Assert.True(ledger.CrossedNinetyPercent());
    }

    [Fact]
    public async Task ReserveAndRelease_ManyThreads_LeaveEveryCounterExact()
    {
        var time = new FakeTimeProvider();
        const int capacity = 50;
        var ledger = CreateSut(capacity, TimeSpan.FromSeconds(60), time);
        var held = 0;
        var maxHeld = 0;
        var timeWaits = 0;

        async Task Worker(int seed)
        {
            var random = new Random(seed);
            await Task.Yield();
            for (var i = 0; i < 20_000; i++)
            {
                if (!ledger.TryReserve())
                {
                    continue;
                }

                var now = Interlocked.Increment(ref held);
                InterlockedMax(ref maxHeld, now);
                Assert.InRange(now, 1, capacity);
                Interlocked.Decrement(ref held);
                var graceful = random.Next(100) == 0;
                if (graceful)
                {
                    Interlocked.Increment(ref timeWaits);
                }

                ledger.Release(graceful ? ReleaseKind.TimeWait : ReleaseKind.Free);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 8).Select(i => Task.Run(() => Worker(i))));

        Assert.Equal(0, ledger.Open);
        Assert.InRange(maxHeld, 1, capacity);
        Assert.Equal(Math.Min(timeWaits, capacity), ledger.TimeWait);
        Assert.Equal(capacity - ledger.TimeWait, ledger.Remaining);
        time.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(0, ledger.TimeWait);
        Assert.Equal(capacity, ledger.Remaining);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current)
            {
                return;
            }

            current = seen;
        }
    }
}
