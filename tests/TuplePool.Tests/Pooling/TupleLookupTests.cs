using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Pooling;
using TuplePool.Sources;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>What a waiting destination learns from the budget: room now, and when to look again.</summary>
public sealed class TupleLookupTests
{
    private static readonly IPEndPoint Destination = new(IPAddress.Loopback, 9000);
    private static readonly TimeSpan Quarantine = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _time = new();
    private readonly TupleBudget _budget;
    private readonly SourceSelector _selector;

    public TupleLookupTests()
    {
        // One port per tuple, TIME_WAIT charged for 60 s.
        _budget = new TupleBudget(TestKernel.Create(twReuse: 0), new TuplePoolOptions { LocalPortRange = new PortRange(40000, 40000) }, _time);
        _selector = new SourceSelector(TestSources.Take(2), SourceSelectionMode.MostRemaining, Quarantine, _budget, _time);
    }

    private TupleLookup CreateSut() => new(_selector, _budget, _time);

    [Fact]
    public void NextExpiry_AQuarantinedSourceWithRoom_IsWhenItsQuarantineEnds()
    {
        var sut = CreateSut();
        Fill(TestSources.S2);
        var now = _time.GetTimestamp();
        Assert.True(_selector.Quarantine(Source(TestSources.S3)));

        Assert.False(sut.HasRoom([Destination]));
        Assert.Equal(now + (30 * _time.TimestampFrequency), sut.NextExpiry([Destination]));
    }

    [Fact]
    public void NextExpiry_AQuarantinedSourceWhosePortFreesLater_IsWhenThePortFrees()
    {
        var sut = CreateSut();
        Fill(TestSources.S2);
        var now = _time.GetTimestamp();
        _budget.TryCharge(new ConnectionTuple(TestSources.S3, Destination))!.Release(ReleaseKind.TimeWait); // charged for 60 s, longer than the quarantine
        Assert.True(_selector.Quarantine(Source(TestSources.S3)));

        Assert.Equal(now + (60 * _time.TimestampFrequency), sut.NextExpiry([Destination]));
    }

    [Fact]
    public void NextExpiry_AQuarantinedSourceWithNothingDueToFree_GivesNoTime()
    {
        // Its ports are open connections: their closes wake the line, its quarantine end would not help.
        var sut = CreateSut();
        Fill(TestSources.S2);
        Fill(TestSources.S3);
        Assert.True(_selector.Quarantine(Source(TestSources.S3)));

        Assert.Null(sut.NextExpiry([Destination]));
    }

    [Fact]
    public void HasRoom_OnceTheQuarantineHasEnded_SeesTheSourceAgain()
    {
        var sut = CreateSut();
        Fill(TestSources.S2);
        Assert.True(_selector.Quarantine(Source(TestSources.S3)));

        _time.Advance(Quarantine - TimeSpan.FromTicks(1));
        Assert.False(sut.HasRoom([Destination]));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.True(sut.HasRoom([Destination]));
    }

    private SourceAddress Source(IPAddress address) => _selector.SourcesFor(address).Single(s => s.Address.Equals(address));

    private void Fill(IPAddress source) => Assert.NotNull(_budget.TryCharge(new ConnectionTuple(source, Destination)));
}
