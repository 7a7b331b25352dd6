using System.Net;

namespace TuplePool.Tests.Budget;

/// <summary>The public snapshot's refusal fields: what the constructor accepts and what ToString shows.</summary>
public sealed class TuplePoolSnapshotTests
{
    private static readonly DateTimeOffset At = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);

    [Fact]
    public void Constructor_WithoutRefusals_ReportsNone()
    {
        var snapshot = new TuplePoolSnapshot([], pendingAcquires: 2);

        Assert.Equal(0, snapshot.RefusedAcquires);
        Assert.Null(snapshot.LastRefusal);
        Assert.DoesNotContain("refused", snapshot.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_WithRefusals_KeepsThem_AndToStringShowsThem()
    {
        var snapshot = new TuplePoolSnapshot([Usage()], pendingAcquires: 0, refusedAcquires: 3, lastRefusal: At);

        Assert.Equal(3, snapshot.RefusedAcquires);
        Assert.Equal(At, snapshot.LastRefusal);
        Assert.StartsWith("1 tuples: 1 active, 0 idle, 0 TIME_WAIT; 0 callers waiting; 3 refused, the last at 2026-01-02T03:04:05.0000000+00:00", snapshot.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_NegativeRefusals_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new TuplePoolSnapshot([], 0, refusedAcquires: -1, lastRefusal: At));

    [Theory]
    [InlineData(0L, true)] // a time without a refusal
    [InlineData(2L, false)] // refusals without a time
    public void Constructor_CountAndTimeDisagree_Throws(long refused, bool withTime)
    {
        var error = Assert.Throws<ArgumentException>(() => new TuplePoolSnapshot([], 0, refused, withTime ? At : null));

        Assert.Equal("lastRefusal", error.ParamName);
    }

    private static TupleUsage Usage() => new(IPAddress.Parse("127.0.0.2"), new IPEndPoint(IPAddress.Loopback, 7000), capacity: 10, active: 1, idle: 0, timeWait: 0, remaining: 9);
}
