using System.Net;
using TuplePool.Options;

namespace TuplePool.Tests.Options;

public sealed class PrefixAddressesTests
{
    [Theory]
    [InlineData("198.18.64.0/24", "254")]
    [InlineData("198.18.64.0/30", "2")]
    [InlineData("198.18.64.0/31", "0")]
    [InlineData("198.18.64.1/32", "0")]
    [InlineData("2001:2::/126", "3")]
    [InlineData("2001:2::/127", "1")]
    [InlineData("2001:2::1/128", "0")]
    [InlineData("2001:2::/64", "18446744073709551615")]
    public void UsableCount_LeavesOutTheNetworksOwnAddressAndIPv4Broadcast(string network, string expected)
        => Assert.Equal(UInt128.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), PrefixAddresses.UsableCount(IPNetwork.Parse(network)));

    [Fact]
    public void AddressAt_NumbersFromTheAddressAfterTheNetworksOwn()
    {
        var v4 = IPNetwork.Parse("198.18.64.0/24");
        var v6 = IPNetwork.Parse("2001:2:0:1::/64");

        Assert.Equal(IPAddress.Parse("198.18.64.1"), PrefixAddresses.AddressAt(v4, 0));
        Assert.Equal(IPAddress.Parse("198.18.64.254"), PrefixAddresses.AddressAt(v4, 253));
        Assert.Equal(IPAddress.Parse("2001:2:0:1::1"), PrefixAddresses.AddressAt(v6, 0));
        Assert.Equal(IPAddress.Parse("2001:2:0:1:ffff:ffff:ffff:ffff"), PrefixAddresses.AddressAt(v6, PrefixAddresses.UsableCount(v6) - 1));
    }

    [Theory]
    [InlineData("198.18.64.0", false)]
    [InlineData("198.18.64.1", true)]
    [InlineData("198.18.64.254", true)]
    [InlineData("198.18.64.255", false)]
    [InlineData("198.18.65.1", false)]
    public void IsUsable_IPv4_OnlyTheAddressesBetweenNetworkAndBroadcast(string address, bool usable)
        => Assert.Equal(usable, PrefixAddresses.IsUsable(IPNetwork.Parse("198.18.64.0/24"), IPAddress.Parse(address)));

    [Fact]
    public void IndexOf_IsTheInverseOfAddressAt()
    {
        var network = IPNetwork.Parse("2001:2::/48");

        Assert.Equal((UInt128)12345, PrefixAddresses.IndexOf(network, PrefixAddresses.AddressAt(network, 12345)));
        Assert.Null(PrefixAddresses.IndexOf(network, IPAddress.Parse("2001:2::")));
        Assert.Null(PrefixAddresses.IndexOf(network, IPAddress.Parse("2001:3::1")));
    }

    [Fact]
    public void RandomAddress_IsAlwaysAUsableAddressOfThePrefix()
    {
        var small = IPNetwork.Parse("198.18.64.0/30");
        var large = IPNetwork.Parse("2001:2::/48");

        var fromSmall = Enumerable.Range(0, 200).Select(_ => PrefixAddresses.RandomAddress(small)).ToList();
        var fromLarge = Enumerable.Range(0, 200).Select(_ => PrefixAddresses.RandomAddress(large)).ToList();

        Assert.All(fromSmall, a => Assert.True(PrefixAddresses.IsUsable(small, a), $"{a}"));
        Assert.Equal(2, fromSmall.Distinct().Count()); // both usable addresses come up, never .0 or .3
        Assert.All(fromLarge, a => Assert.True(PrefixAddresses.IsUsable(large, a), $"{a}"));
        Assert.True(fromLarge.Distinct().Count() > 190);
    }
}
