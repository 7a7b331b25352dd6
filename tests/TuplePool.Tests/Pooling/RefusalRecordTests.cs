using Microsoft.Extensions.Time.Testing;
using TuplePool.Pooling;

namespace TuplePool.Tests.Pooling;

/// <summary>The pool's own count of typed refusals and the time of the last one.</summary>
public sealed class RefusalRecordTests
{
    private readonly FakeTimeProvider _time = new();

    private RefusalRecord CreateSut() => new(_time);

    [Fact]
    public void Read_NothingRefused_IsZeroWithNoTime()
    {
        var record = CreateSut();

        Assert.Equal((0L, (DateTimeOffset?)null), record.Read());
    }

    [Fact]
    public void Record_Twice_CountsBoth_AndKeepsTheTimeOfTheLater()
    {
        var record = CreateSut();
        record.Record();
        var first = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(7));

        Assert.Equal((1L, (DateTimeOffset?)first), record.Read());
        record.Record();

        Assert.Equal((2L, (DateTimeOffset?)first.AddSeconds(7)), record.Read());
    }

    [Fact]
    public async Task Record_FromManyThreads_LosesNone()
    {
        var record = CreateSut();
        using var start = new Barrier(4);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            start.SignalAndWait();
            for (var i = 0; i < 10_000; i++)
            {
                record.Record();
            }
        })));

        Assert.Equal(40_000, record.Read().Count);
    }

    [Fact]
    public void RecordBackground_CountsApartFromRefusalsCallersReceived()
    {
        var record = CreateSut();
        var at = _time.GetUtcNow();

        record.RecordBackground();

        Assert.Equal((0L, (DateTimeOffset?)null), record.Read());
        Assert.Equal((1L, (DateTimeOffset?)at), record.ReadBackground());
    }

    [Fact]
    public void Received_TheLatestBackgroundRefusal_MovesIt_AndTheOneBeforeIsTheLastAgain()
    {
        var record = CreateSut();
        record.RecordBackground();
        var first = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(4));
        var ticket = record.RecordBackground();
        var second = _time.GetUtcNow();
        _time.Advance(TimeSpan.FromSeconds(1));

        record.Received(ticket);

        Assert.Equal((1L, (DateTimeOffset?)second), record.Read()); // at the time it happened, not when it was reported
        Assert.Equal((1L, (DateTimeOffset?)first), record.ReadBackground());
    }

    [Fact]
    public void Received_EveryBackgroundRefusal_LeavesNone()
    {
        var record = CreateSut();
        var tickets = Enumerable.Range(0, 3).Select(_ => record.RecordBackground()).ToList();

        tickets.ForEach(record.Received);

        Assert.Equal((0L, (DateTimeOffset?)null), record.ReadBackground());
        Assert.Equal(3L, record.Read().Count);
    }

    [Fact]
    public void Received_ARefusalOlderThanTheRecentOnesKept_StillMovesTheCount()
    {
        var record = CreateSut();
        var old = record.RecordBackground();
        for (var i = 0; i < RefusalRecord.RecentBackground; i++)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            record.RecordBackground();
        }

        record.Received(old);

        Assert.Equal(RefusalRecord.RecentBackground, record.ReadBackground().Count);
        Assert.Equal(_time.GetUtcNow(), record.ReadBackground().Last);
        Assert.Equal(1L, record.Read().Count);
    }
}
