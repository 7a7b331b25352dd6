using System.Net;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Sources;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Sources;

public sealed class PrefixSourceTests
{
    private static readonly IPEndPoint Destination = new(IPAddress.Parse("198.19.0.2"), 9000);
    private readonly FakeTimeProvider _time = new();

    private TupleBudget CreateBudget(int capacity)
        => new(TestKernel.Create(), new TuplePoolOptions { LocalPortRange = new PortRange(40000, 40000 + capacity - 1) }, _time);

    private static PrefixSource CreateSut(string network = "198.18.64.0/24", ulong start = 0) => new(IPNetwork.Parse(network), start);

    private static ConnectionCharge Charge(TupleBudget budget, string source)
        => budget.TryCharge(new ConnectionTuple(IPAddress.Parse(source), Destination)) ?? throw new InvalidOperationException($"{source} is full");

    [Fact]
    public void Pick_NothingHeld_TakesConsecutiveAddressesFromTheCounter()
    {
        var sut = CreateSut();

        var picked = Enumerable.Range(0, 3).Select(_ => sut.Pick(null, 10, out _)).ToList();

        Assert.Equal([IPAddress.Parse("198.18.64.1"), IPAddress.Parse("198.18.64.2"), IPAddress.Parse("198.18.64.3")], picked);
    }

    [Fact]
    public void Pick_NextAddressInUse_TakesTheNextUntouchedOneWithItsWholeCapacity()
    {
        var budget = CreateBudget(10);
        var sut = CreateSut();
        Charge(budget, "198.18.64.1");

        var picked = sut.Pick(budget.Find(Destination), budget.CapacityPerTuple, out var remaining);

        Assert.Equal(IPAddress.Parse("198.18.64.2"), picked);
        Assert.Equal(10, remaining);
    }

    [Fact]
    public void Pick_EveryProbedAddressFull_WalksOnToOneWithRoom()
    {
        var budget = CreateBudget(1);
        var sut = CreateSut("198.18.64.0/29"); // .1-.6
        foreach (var source in new[] { "198.18.64.1", "198.18.64.2", "198.18.64.3", "198.18.64.4", "198.18.64.5" })
        {
            Charge(budget, source);
        }

        var picked = sut.Pick(budget.Find(Destination), budget.CapacityPerTuple, out var remaining);

        Assert.Equal(IPAddress.Parse("198.18.64.6"), picked);
        Assert.Equal(1, remaining);
    }

    [Fact]
    public void Pick_EveryAddressFull_ReturnsNullAndHasRoomSaysSo()
    {
        var budget = CreateBudget(1);
        var sut = CreateSut("198.18.64.0/29");
        for (var i = 1; i <= 6; i++)
        {
            Charge(budget, $"198.18.64.{i}");
        }

        Assert.Null(sut.Pick(budget.Find(Destination), budget.CapacityPerTuple, out var remaining));
        Assert.Equal(0, remaining);
        Assert.False(sut.HasRoom(budget.Find(Destination)));
    }

    [Fact]
    public void HasRoom_OneAddressOfTheSmallPrefixStillFree_IsTrue()
    {
        var budget = CreateBudget(1);
        var sut = CreateSut("198.18.64.0/29");
        for (var i = 1; i <= 5; i++)
        {
            Charge(budget, $"198.18.64.{i}");
        }

        Charge(budget, "127.0.0.2"); // another source's full ledger there is not the prefix's

        Assert.True(sut.HasRoom(budget.Find(Destination)));
    }

    [Fact]
    public void Pick_PrefixSmallerThanTheConnections_SpreadsThemEvenly()
    {
        var budget = CreateBudget(3);
        var sut = CreateSut("198.18.64.0/30"); // .1 and .2

        for (var i = 0; i < 6; i++)
        {
            var address = sut.Pick(budget.Find(Destination), budget.CapacityPerTuple, out _);
            Assert.NotNull(address);
            Assert.NotNull(budget.TryCharge(new ConnectionTuple(address, Destination)));
        }

        Assert.All(budget.Ledgers, l => Assert.Equal(0, l.Remaining));
        Assert.Equal(2, budget.Ledgers.Count());
        Assert.Null(sut.Pick(budget.Find(Destination), budget.CapacityPerTuple, out _));
    }

    [Fact]
    public void Counter_StartsAtRandomWhenNotGiven()
    {
        var starts = Enumerable.Range(0, 20).Select(_ => new PrefixSource(IPNetwork.Parse("2001:2::/48")).Pick(null, 1, out _)).Distinct().Count();

        Assert.True(starts > 15, $"{starts} distinct first addresses of 20 pools");
    }

    [Fact]
    public void InUse_ListsOnlyThisPrefixsAddressesThatHoldSomething()
    {
        var budget = CreateBudget(10);
        var sut = CreateSut();
        Charge(budget, "198.18.64.7");
        Charge(budget, "198.18.64.9");
        Charge(budget, "198.18.65.1");
        Charge(budget, "127.0.0.2");

        var inUse = sut.InUse(budget.Find(Destination)).Select(l => l.Tuple.Source).ToList();

        Assert.Equal([IPAddress.Parse("198.18.64.7"), IPAddress.Parse("198.18.64.9")], inUse.OrderBy(a => a.ToString()));
    }
}
