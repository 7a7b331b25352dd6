using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;

namespace TuplePool.Tests.Budget;

public sealed class ConnectionChargeTests
{
    private readonly FakeTimeProvider _time = new();

    private TupleLedger CreateLedger(int capacity = 4)
        => new(new ConnectionTuple(IPAddress.Loopback, new IPEndPoint(IPAddress.Loopback, 9)), capacity, TimeSpan.FromSeconds(60), _time);

    [Fact]
    public void Release_Twice_FreesThePortOnce()
    {
        var ledger = CreateLedger();
        Assert.True(ledger.TryReserve());
        Assert.True(ledger.TryReserve());
        var charge = new ConnectionCharge(ledger);

        Assert.True(charge.Release(ReleaseKind.Free));
        Assert.False(charge.Release(ReleaseKind.Free));

        Assert.Equal(1, ledger.Open); // the other reservation is untouched
        Assert.True(charge.IsReleased);
    }

    [Fact]
    public void Release_ConcurrentFromManyThreads_OnlyOneWins()
    {
        var ledger = CreateLedger(capacity: 1);
        Assert.True(ledger.TryReserve());
        var charge = new ConnectionCharge(ledger);
        var wins = 0;

        Parallel.For(0, 64, _ =>
        {
            if (charge.Release(ReleaseKind.TimeWait))
            {
                Interlocked.Increment(ref wins);
            }
        });

        Assert.Equal(1, wins);
        Assert.Equal(0, ledger.Open);
        Assert.Equal(1, ledger.TimeWait);
    }

    [Theory]
    [InlineData((int)ReleaseKind.Free, 0)]
    [InlineData((int)ReleaseKind.PeerClosedFirst, 0)]
    [InlineData((int)ReleaseKind.TimeWait, 1)]
    public void Release_LeavesWhatTheCloseLeft_OnTheLocalTuple(int releaseKind, int timeWait)
    {
        var kind = (ReleaseKind)releaseKind;
        var ledger = CreateLedger();
        Assert.True(ledger.TryReserve());

        new ConnectionCharge(ledger).Release(kind);

        Assert.Equal(timeWait, ledger.TimeWait);
        Assert.Equal(4 - timeWait, ledger.Remaining);
    }
}
