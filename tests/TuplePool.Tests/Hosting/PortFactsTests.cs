using TuplePool.Hosting;

namespace TuplePool.Tests.Hosting;

public sealed class PortFactsTests
{
    [Theory]
    [InlineData(45000, 45099, 0)]
    [InlineData(40000, 40009, 10)]
    [InlineData(40005, 40007, 3)]
    [InlineData(40008, 40100, 3)]
    [InlineData(32768, 60999, 12)]
    public void CountReservedIn_OverlapsEachReservedRange(int first, int last, int expected)
    {
        var facts = new PortFacts(new PortRange(32768, 60999), [new PortRange(40000, 40009), new PortRange(40100, 40100), new PortRange(50000, 50000)], true, null);

        Assert.Equal(expected, facts.CountReservedIn(new PortRange(first, last)));
    }

    [Fact]
    public void ReadSystem_Linux_ThisMachinesRangeAndKernel()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "PortFacts are only read on Linux; elsewhere they are unknown (null).");

        var facts = PortFacts.ReadSystem();

        Assert.NotNull(facts);
        Assert.Equal(PortRange.ReadSystem(), facts.SystemRange);
        Assert.Equal(Environment.OSVersion.Version >= new Version(6, 3), facts.HonorsLocalPortRange);
    }
}
