using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Tests.Pooling;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Budget;

/// <summary>The public snapshot: what the constructor accepts of its refusal fields, and what ToString shows, down to a real pool's tuples.</summary>
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

    [Fact]
    public async Task Snapshot_ToString_PrintsEachTuple()
    {
        await using var server = new LoopbackServer();
        await using var pool = CreateSut(new FakeTimeProvider());
        await using var lease = await pool.AcquireAsync(server.EndPoint);

        var text = pool.GetSnapshot().ToString();

        Assert.Contains($"127.0.0.2 -> {server.EndPoint}: 1 active, 0 idle", text, StringComparison.Ordinal);
    }

    private static SocketPool CreateSut(TimeProvider time) => LoopbackPool.Create(time, capacity: 10, CloseMode.Abortive);

    private static TupleUsage Usage() => new(IPAddress.Parse("127.0.0.2"), new IPEndPoint(IPAddress.Loopback, 7000), capacity: 10, active: 1, idle: 0, timeWait: 0, remaining: 9);
}
