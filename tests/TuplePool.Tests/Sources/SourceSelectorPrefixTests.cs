using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Sources;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Sources;

/// <summary>A source prefix in the selection: another address of it for each new connection to one destination, next to the listed sources.</summary>
public sealed class SourceSelectorPrefixTests
{
    private static readonly IPEndPoint V4 = new(IPAddress.Parse("198.19.0.2"), 9000);
    private static readonly IPEndPoint V6 = new(IPAddress.Parse("2001:2:0:ff::2"), 9000);
    private static readonly IPNetwork Prefix4 = IPNetwork.Parse("198.18.64.0/24");
    private static readonly IPNetwork Prefix6 = IPNetwork.Parse("2001:2:0:1::/64");
    private readonly FakeTimeProvider _time = new();
    private TupleBudget _budget = null!;

    private SourceSelector CreateSut(IList<IPAddress> sources, IList<IPNetwork> prefixes, SourceSelectionMode mode = SourceSelectionMode.MostRemaining, int capacity = 10)
    {
        _budget = new TupleBudget(TestKernel.Create(), new TuplePoolOptions { LocalPortRange = new PortRange(40000, 40000 + capacity - 1) }, _time);
        return new SourceSelector(sources, mode, TimeSpan.FromSeconds(30), _budget, _time, prefixes);
    }

    [Theory]
    [InlineData(SourceSelectionMode.MostRemaining)]
    [InlineData(SourceSelectionMode.RoundRobin)]
    public void TryReserve_ManyConnectionsToOneDestination_EachTakesAnotherAddressOfThePrefix(SourceSelectionMode mode)
    {
        var sut = CreateSut([], [Prefix4, Prefix6], mode, capacity: 10);

        var v4 = Enumerable.Range(0, 200).Select(i => sut.TryReserve(V4, null, out _)!).ToList();
        var v6 = Enumerable.Range(0, 200).Select(i => sut.TryReserve(V6, null, out _)!).ToList();

        // 200 connections to one destination port, far past the 10 ports of one tuple.
        Assert.Equal(200, v4.Select(c => c.Tuple.Source).Distinct().Count());
        Assert.All(v4, c => Assert.True(Prefix4.Contains(c.Tuple.Source)));
        Assert.Equal(200, v6.Select(c => c.Tuple.Source).Distinct().Count());
        Assert.All(v6, c => Assert.True(Prefix6.Contains(c.Tuple.Source)));
    }

    [Fact]
    public void TryReserve_LedgersFollowOnlyAddressesInUse_AndGoWhenReleased()
    {
        var sut = CreateSut([], [Prefix6]);

        var charges = Enumerable.Range(0, 500).Select(i => sut.TryReserve(V6, null, out _)!).ToList();
        Assert.Equal(500, _budget.Ledgers.Count());

        charges.ForEach(c => c.Release(ReleaseKind.Free));

        Assert.True(_budget.IsEmpty);
        Assert.Empty(_budget.Ledgers);
    }

    [Fact]
    public void TryReserve_ListedSourceAndPrefix_TheUntouchedListedSourceFirst_ThenThePrefixsUntouchedAddresses()
    {
        var sut = CreateSut([TestSources.S2], [IPNetwork.Parse("127.64.0.0/16")]);
        var loopback = new IPEndPoint(IPAddress.Loopback, 9000);

        var first = sut.TryReserve(loopback, null, out var firstSource)!;
        var second = sut.TryReserve(loopback, null, out var secondSource)!;

        Assert.Equal(TestSources.S2, first.Tuple.Source);
        Assert.Null(firstSource!.Prefix);
        Assert.NotNull(secondSource!.Prefix);
        Assert.True(IPNetwork.Parse("127.64.0.0/16").Contains(second.Tuple.Source));
    }

    [Fact]
    public void TryReserve_SmallPrefixFull_ReturnsNull_UntilAPortIsReleased()
    {
        var sut = CreateSut([], [IPNetwork.Parse("198.18.64.0/30")], capacity: 2); // 2 addresses x 2 ports
        var charges = Enumerable.Range(0, 4).Select(i => sut.TryReserve(V4, null, out _)).ToList();
        Assert.All(charges, Assert.NotNull);

        Assert.Null(sut.TryReserve(V4, null, out _));

        charges[2]!.Release(ReleaseKind.Free);
        Assert.Equal(charges[2]!.Tuple.Source, sut.TryReserve(V4, null, out _)!.Tuple.Source);
    }

    [Fact]
    public void TryReserve_PrefixExcluded_IsLeftOutAsOneSource()
    {
        var sut = CreateSut([], [Prefix4]);
        var prefix = sut.SourcesFor(V4.Address)[0];

        Assert.Null(sut.TryReserve(V4, [prefix], out _));
        Assert.False(sut.HasUntried(V4.Address, [prefix]));
    }

    [Fact]
    public void SourcesFor_PrefixesOfTheFamilyOnly_AndNoImplicitSourceBesideThem()
    {
        var sut = CreateSut([], [Prefix6]);

        Assert.Empty(sut.SourcesFor(V4.Address)); // a prefix is configured: IPv4 has no source, as with listed IPv6 addresses only
        Assert.Equal(Prefix6, Assert.Single(sut.SourcesFor(V6.Address)).Prefix!.Network);
    }
}
