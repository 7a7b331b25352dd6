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
}
