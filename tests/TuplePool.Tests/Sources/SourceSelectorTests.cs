using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Sources;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Sources;

public sealed class SourceSelectorTests
{
    private static readonly IPEndPoint V4 = new(IPAddress.Loopback, 9000);
    private static readonly IPEndPoint V6 = new(IPAddress.IPv6Loopback, 9000);
    private readonly FakeTimeProvider _time = new();

    private SourceSelector CreateSut(IList<IPAddress> sources, SourceSelectionMode mode = SourceSelectionMode.MostRemaining, int capacity = 10)
    {
        var budget = new TupleBudget(TestKernel.Create(), new TuplePoolOptions { LocalPortRange = new PortRange(40000, 40000 + capacity - 1) }, _time);
        return new SourceSelector(sources, mode, TimeSpan.FromSeconds(30), budget, _time);
    }

    [Fact]
    public void TryReserve_PicksOnlySourcesOfTheDestinationsFamily()
    {
        var sut = CreateSut([TestSources.S2, IPAddress.Parse("::1")]);

        Assert.Equal(TestSources.S2, sut.TryReserve(V4, null, out _)!.Tuple.Source);
        Assert.Equal(IPAddress.Parse("::1"), sut.TryReserve(V6, null, out _)!.Tuple.Source);
    }

    [Fact]
    public void TryReserve_MostRemaining_SpreadsEvenlyAndFillsEverySource()
    {
        var sut = CreateSut(TestSources.Take(3), capacity: 4);
        var counts = new Dictionary<IPAddress, int>();
        for (var i = 0; i < 12; i++)
        {
            var ledger = sut.TryReserve(V4, null, out _);
            Assert.NotNull(ledger);
            counts[ledger.Tuple.Source] = counts.GetValueOrDefault(ledger.Tuple.Source) + 1;
            Assert.InRange(counts.Values.Max() - counts.Values.Min(), 0, 1);
        }

        Assert.Null(sut.TryReserve(V4, null, out _));
        Assert.All(counts.Values, n => Assert.Equal(4, n));
    }

    [Fact]
    public void TryReserve_MostRemaining_PrefersTheSourceWithMostRoom()
    {
        var sut = CreateSut(TestSources.Take(2), capacity: 10);
        for (var i = 0; i < 3; i++)
        {
            Assert.NotNull(sut.TryReserve(V4, [sut.SourcesFor(V4.Address)[1]], out _)); // fill S2 with 3
        }

        Assert.Equal(TestSources.S3, sut.TryReserve(V4, null, out _)!.Tuple.Source);
    }

    [Fact]
    public void TryReserve_MostRemaining_ManySourcesOnABusyDestination_StillPicksTheMostRoom()
    {
        // 16 sources, every one holding ports to the destination: the selection reads the room of
        // all of them in one pass over the destination's ledgers instead of a lookup per source.
        var sources = Enumerable.Range(1, 16).Select(i => IPAddress.Parse($"127.0.9.{i}")).ToList();
        var sut = CreateSut(sources, capacity: 10);
        var all = sut.SourcesFor(V4.Address);
        for (var j = 0; j < all.Count; j++)
        {
            var others = all.Where((_, k) => k != j).ToList();
            for (var n = 0; n < (j == 11 ? 1 : 3); n++)
            {
                Assert.Equal(sources[j], sut.TryReserve(V4, others, out _)!.Tuple.Source);
            }
        }

        Assert.Equal(sources[11], sut.TryReserve(V4, null, out _)!.Tuple.Source); // 9 free against 7
        Assert.Equal(sources[11], sut.TryReserve(V4, null, out _)!.Tuple.Source); // 8 free against 7
        var spread = new Dictionary<IPAddress, int>();
        for (var i = 0; i < 16 * 7; i++)
        {
            var source = sut.TryReserve(V4, null, out _)!.Tuple.Source;
            spread[source] = spread.GetValueOrDefault(source) + 1;
        }

        Assert.Null(sut.TryReserve(V4, null, out _)); // every tuple full, none over
        Assert.All(sources, source => Assert.Equal(7, spread[source])); // most room first: evenly
    }

    [Fact]
    public void TryReserve_RoundRobin_TakesEachSourceInTurn()
    {
        var sut = CreateSut(TestSources.Take(3), SourceSelectionMode.RoundRobin);

        var picked = Enumerable.Range(0, 6).Select(i => sut.TryReserve(V4, null, out var unused)!.Tuple.Source).ToList();

        Assert.Equal(picked.Take(3), picked.Skip(3));
        Assert.Equal(3, picked.Take(3).Distinct().Count());
    }

    [Fact]
    public void Quarantine_LeavesTheSourceOutUntilItEnds_ThenRaisesRestoredOnce()
    {
        var sut = CreateSut(TestSources.Take(2));
        var restored = new List<IPAddress>();
        sut.SourceRestored += s => restored.Add(s.Address);
        var s2 = sut.SourcesFor(V4.Address)[0];

        Assert.True(sut.Quarantine(s2));
        Assert.False(sut.Quarantine(s2)); // already out: not reported twice
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(TestSources.S3, sut.TryReserve(V4, null, out _)!.Tuple.Source);
        }

        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.NotNull(sut.TryReserve(V4, null, out _));
        sut.TryReserve(V4, null, out _);
        Assert.Equal([TestSources.S2], restored);
    }

    [Fact]
    public void AllQuarantined_TrueOnlyWhenEverySourceOfTheFamilyIsOut()
    {
        var sut = CreateSut(TestSources.Take(2));
        var sources = sut.SourcesFor(V4.Address);

        sut.Quarantine(sources[0]);
        Assert.False(sut.AllQuarantined(V4.Address));
        sut.Quarantine(sources[1]);
        Assert.True(sut.AllQuarantined(V4.Address));
        Assert.False(sut.AllQuarantined(V6.Address)); // no IPv6 sources at all: nothing to be out
    }

    [Fact]
    public void NoSourcesConfigured_UsesOneImplicitSourcePerFamily()
    {
        var sut = CreateSut([]);

        Assert.Equal(IPAddress.Any, sut.TryReserve(V4, null, out var v4)!.Tuple.Source);
        Assert.Equal(IPAddress.IPv6Any, sut.TryReserve(V6, null, out var v6)!.Tuple.Source);
        Assert.True(v4!.IsImplicit);
        Assert.True(v6!.IsImplicit);
    }
}
