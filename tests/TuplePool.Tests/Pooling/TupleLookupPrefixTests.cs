using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Pooling;
using TuplePool.Sources;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>A waiting destination's questions when its source is a prefix: room while any address has a port, and when one frees.</summary>
public sealed class TupleLookupPrefixTests
{
    private static readonly IPEndPoint Destination = new(IPAddress.Parse("198.19.0.2"), 9000);
    private readonly FakeTimeProvider _time = new();
    private readonly TupleBudget _budget;
    private readonly SourceSelector _selector;

    public TupleLookupPrefixTests()
    {
        // One port per tuple, TIME_WAIT charged for 60 s; 2 addresses.
        _budget = new TupleBudget(TestKernel.Create(twReuse: 0), new TuplePoolOptions { LocalPortRange = new PortRange(40000, 40000) }, _time);
        _selector = new SourceSelector([], SourceSelectionMode.MostRemaining, TimeSpan.FromSeconds(30), _budget, _time, [IPNetwork.Parse("198.18.64.0/30")]);
    }

    private TupleLookup CreateSut() => new(_selector, _budget, _time);

    [Fact]
    public void HasRoom_WhileOneAddressHasAPort()
    {
        var sut = CreateSut();
        Assert.True(sut.HasRoom([Destination]));

        Assert.NotNull(_selector.TryReserve(Destination, null, out _));
        Assert.True(sut.HasRoom([Destination]));

        Assert.NotNull(_selector.TryReserve(Destination, null, out _));
        Assert.False(sut.HasRoom([Destination]));
    }

    [Fact]
    public void NextExpiry_EveryAddressFull_IsWhenTheFirstTimeWaitEnds()
    {
        var sut = CreateSut();
        var start = _time.GetTimestamp();
        _selector.TryReserve(Destination, null, out _)!.Release(ReleaseKind.TimeWait);
        _time.Advance(TimeSpan.FromSeconds(5));
        _selector.TryReserve(Destination, null, out _)!.Release(ReleaseKind.TimeWait);

        Assert.False(sut.HasRoom([Destination]));
        Assert.Equal(start + (60 * _time.TimestampFrequency), sut.NextExpiry([Destination]));
    }
}
