using Microsoft.Extensions.Time.Testing;
using TuplePool.Telemetry;

namespace TuplePool.Tests.Telemetry;

/// <summary>The read the observable instruments of one collection share, on its own.</summary>
public sealed class CollectionReadTests
{
    private readonly FakeTimeProvider _time = new();
    private int _reads;

    private CollectionRead<int> CreateSut() => new(() => ++_reads, _time);

    [Fact]
    public void DistinctConsumers_ShareOneRead()
    {
        var sut = CreateSut();

        var values = Enumerable.Range(0, 10).Select(sut.Get).ToList();

        Assert.Equal(1, _reads);
        Assert.All(values, v => Assert.Equal(1, v));
    }

    [Fact]
    public void AConsumerAskingAgain_IsTheNextCollection_ANewRead()
    {
        var sut = CreateSut();
        sut.Get(0);
        sut.Get(1);

        var next = sut.Get(0);
        var other = sut.Get(1);

        Assert.Equal(2, _reads);
        Assert.Equal(2, next);
        Assert.Equal(2, other);
    }

    [Fact]
    public void AReadOlderThanMaxAge_IsNotServedToAConsumerThatHasNotHadIt()
    {
        var sut = CreateSut();
        sut.Get(0); // one listener collects instrument 0 only
        _time.Advance(CollectionRead<int>.MaxAge + TimeSpan.FromMilliseconds(1));

        var late = sut.Get(1); // another listener, instrument 1, later

        Assert.Equal(2, late);
    }

    [Fact]
    public void AReadWithinMaxAge_IsServedToAConsumerThatHasNotHadIt()
    {
        var sut = CreateSut();
        sut.Get(0);
        _time.Advance(CollectionRead<int>.MaxAge);

        Assert.Equal(1, sut.Get(1));
    }

    [Fact]
    public void AReadThatThrows_IsReadAgainByTheNextConsumer()
    {
        var fail = true;
        var sut = new CollectionRead<int>(() => fail ? throw new InvalidOperationException("gone") : ++_reads, _time);
        Assert.Throws<InvalidOperationException>(() => sut.Get(0));
        fail = false;

        Assert.Equal(1, sut.Get(1));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(64)]
    public void Consumer_OutsideTheBits_Throws(int consumer)
        => Assert.Throws<ArgumentOutOfRangeException>(() => CreateSut().Get(consumer));
}
