using System.Net;
using System.Text;
using Microsoft.Extensions.Configuration;
using TuplePool.Options;
using TuplePool.Platform;
using TuplePool.Tests.Platform;

namespace TuplePool.Tests.Options;

/// <summary><see cref="TuplePoolOptions.SourcePrefixes"/>: read from configuration, and every bad input a clear error at start.</summary>
public sealed class SourcePrefixOptionsTests
{
    private static readonly KernelSettings Kernel = Support.TestKernel.Create();

    private static IReadOnlyList<string> Validate(TuplePoolOptions options, Func<IPAddress, string?>? probe = null)
        => TuplePoolOptionsValidator.Validate(options, () => Kernel, probe ?? (static _ => null));

    private static TuplePoolOptions WithPrefixes(params string[] networks)
        => new() { SourcePrefixes = networks.Select(n => IPNetwork.Parse(n)).ToList() };

    [Fact]
    public void Bind_ArrayAndCommaSeparatedString_ReadAsNetworks()
    {
        var json = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes("""
            { "TuplePool": { "SourcePrefixes": [ "198.18.64.0/24", "2001:2:0:1::/64" ] } }
            """))).Build().GetSection("TuplePool");
        var env = new ConfigurationBuilder().AddInMemoryCollection([new("TuplePool:SourcePrefixes", "198.18.64.0/24, 2001:2:0:1::/64")]).Build().GetSection("TuplePool");

        foreach (var section in new[] { json, env })
        {
            var options = new TuplePoolOptions();
            Assert.Empty(TuplePoolConfigurationBinder.Bind(section, options));
            Assert.Equal([IPNetwork.Parse("198.18.64.0/24"), IPNetwork.Parse("2001:2:0:1::/64")], options.SourcePrefixes);
        }
    }

    [Fact]
    public void Bind_NotANetwork_NamesTheKey()
    {
        var section = new ConfigurationBuilder().AddInMemoryCollection([new("TuplePool:SourcePrefixes:0", "198.18.64.1/24")]).Build().GetSection("TuplePool");

        var error = Assert.Single(TuplePoolConfigurationBinder.Bind(section, new TuplePoolOptions()));

        Assert.Contains("TuplePool:SourcePrefixes:0", error, StringComparison.Ordinal);
        Assert.Contains("SourcePrefixes: '198.18.64.1/24' is not a network", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ServedPrefixes_NoFailure_AndAnAddressOfEachIsProbed()
    {
        var probed = new List<IPAddress>();

        Assert.Empty(Validate(WithPrefixes("198.18.64.0/24", "2001:2:0:1::/64"), a => { probed.Add(a); return null; }));

        Assert.Equal(2, probed.Count);
        Assert.True(IPNetwork.Parse("198.18.64.0/24").Contains(probed[0]));
        Assert.True(IPNetwork.Parse("2001:2:0:1::/64").Contains(probed[1]));
    }

    [Theory]
    [InlineData("198.18.64.7/32")]
    [InlineData("198.18.64.6/31")]
    [InlineData("2001:2::7/128")]
    [InlineData("2001:2::6/127")]
    public void Validate_TooSmall_SaysUseSourceAddresses(string network)
    {
        var failure = Assert.Single(Validate(WithPrefixes(network), static _ => throw new InvalidOperationException("must not probe")));

        Assert.StartsWith($"SourcePrefixes[0]: {network} holds too few addresses to be a prefix", failure, StringComparison.Ordinal);
        Assert.Contains("list single addresses in SourceAddresses", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Overlapping_NamesBoth()
    {
        var failure = Assert.Single(Validate(WithPrefixes("198.18.64.0/24", "198.18.0.0/16")));

        Assert.StartsWith("SourcePrefixes[1]: 198.18.0.0/16 overlaps SourcePrefixes[0] (198.18.64.0/24)", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ContainsAListedSourceAddress_NamesIt()
    {
        var options = WithPrefixes("127.64.0.0/16");
        options.SourceAddresses = [IPAddress.Parse("127.0.0.2"), IPAddress.Parse("::ffff:127.64.0.9")];

        var failure = Assert.Single(Validate(options));

        Assert.StartsWith("SourcePrefixes[0]: 127.64.0.0/16 contains SourceAddresses[1] (::ffff:127.64.0.9)", failure, StringComparison.Ordinal);
    }

    private const string NotAssigned = "is not assigned to this machine (binding a socket to it failed with EADDRNOTAVAIL)" + SourceAddressProbe.NotAssignedAdvice;

    [Fact]
    public void Validate_NotServedByThisMachine_GivesTheRouteToAdd()
    {
        var failures = TuplePoolOptionsValidator.Validate(WithPrefixes("198.18.64.0/24"), () => Kernel, static _ => null, n => SourcePrefixProbe.Check(n, static _ => NotAssigned, new FakeProcFileSystem()));

        var failure = Assert.Single(failures);
        Assert.StartsWith("SourcePrefixes[0]: 198.18.64.0/24 is not served by this machine: 198.18.64.", failure, StringComparison.Ordinal);
        Assert.Contains(", an address of it picked at random, is not assigned to this machine (binding a socket to it failed with EADDRNOTAVAIL). ", failure, StringComparison.Ordinal);
        Assert.EndsWith("Route the prefix to this machine with `ip route add local 198.18.64.0/24 dev lo` (AnyIP).", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("ip address", failure, StringComparison.Ordinal); // the listed address's advice is not a prefix's
    }

    [Fact]
    public void SourcePrefixProbe_IPv6_ServedWhenALocalRouteCoversIt_ThoughNoAddressOfItIsAssigned()
    {
        // /proc/net/ipv6_route in a namespace after `ip -6 route add local 2001:2:0:1::/64 dev lo` (Linux 6.18).
        var proc = new FakeProcFileSystem
        {
            [LocalRoutes.Ipv6RouteFile] = """
                20010002000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 80000001       lo
                00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo
                20010002000000020000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001     eth0
                """,
        };

        Assert.Null(SourcePrefixProbe.Check(IPNetwork.Parse("2001:2:0:1::/64"), static _ => NotAssigned, proc));
        Assert.Null(SourcePrefixProbe.Check(IPNetwork.Parse("2001:2:0:1:8000::/65"), static _ => NotAssigned, proc)); // inside the route
        Assert.StartsWith("is not served by this machine: no local route in /proc/net/ipv6_route covers it", SourcePrefixProbe.Check(IPNetwork.Parse("2001:2:0:2::/64"), static _ => NotAssigned, proc), StringComparison.Ordinal); // a route, not a local one
        Assert.NotNull(SourcePrefixProbe.Check(IPNetwork.Parse("2001:2::/48"), static _ => NotAssigned, proc)); // wider than the route
        Assert.StartsWith("cannot be checked", SourcePrefixProbe.Check(IPNetwork.Parse("2001:2:0:1::/64"), static _ => NotAssigned, new FakeProcFileSystem()), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_RealProbe_LoopbackPrefixServed_BenchmarkingPrefixNotServedHere()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "127.0.0.0/8 is served whole by lo on Linux only");
        Assert.SkipWhen(SourceAddressProbe.TryBind(PrefixAddresses.RandomAddress(IPNetwork.Parse("198.18.200.0/24"))) is null, "this machine serves 198.18.200.0/24 (a local route), so it cannot show the error");

        // Binding sends nothing: the probe touches no network.
        var failures = TuplePoolOptionsValidator.Validate(WithPrefixes("127.64.0.0/16", "198.18.200.0/24"), Kernel, probeSources: true);

        var failure = Assert.Single(failures);
        Assert.StartsWith("SourcePrefixes[1]: 198.18.200.0/24 is not served by this machine", failure, StringComparison.Ordinal);
        Assert.Contains("`ip route add local 198.18.200.0/24 dev lo`", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_PoolConstructorWithoutProbe_DoesNotBind()
    {
        Assert.Empty(TuplePoolOptionsValidator.Validate(WithPrefixes("198.18.200.0/24"), Kernel, probeSources: false));
    }

    [Theory]
    [InlineData("0.0.0.0/8", "starts at 0.0.0.0, which is the wildcard address")]
    [InlineData("224.0.0.0/4", "starts at 224.0.0.0, which is a multicast address")]
    [InlineData("::ffff:198.18.64.0/120", "is IPv4-mapped IPv6; write the IPv4 network (198.18.64.0/24)")]
    public void Validate_NotAUnicastNetwork_SaysWhy(string network, string expected)
    {
        var failure = Assert.Single(Validate(WithPrefixes(network)));

        Assert.Contains(expected, failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_NatDestinationsOfAFamilyNoSourceHas_IsAnError()
    {
        var options = WithPrefixes("2001:2:0:1::/64");
        options.Nat = new NatOptions { PortsPerDestination = 128, Destinations = [IPNetwork.Parse("198.19.0.0/24")] };

        var failure = Assert.Single(Validate(options));

        Assert.StartsWith("SourcePrefixes: Nat.Destinations[0] (198.19.0.0/24) is IPv4, but no source prefix or address is IPv4", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Null_IsAnError()
    {
        Assert.StartsWith("SourcePrefixes: is null", Assert.Single(Validate(new TuplePoolOptions { SourcePrefixes = null! })), StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_DefaultNetwork_IsAnError()
    {
        Assert.StartsWith("SourcePrefixes[0]: is an empty network", Assert.Single(Validate(new TuplePoolOptions { SourcePrefixes = [default] })), StringComparison.Ordinal);
    }
}
