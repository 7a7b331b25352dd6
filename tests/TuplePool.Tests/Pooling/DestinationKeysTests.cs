using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Pooling;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// The pool's keys on their own: a caller's endpoint becomes a plain IPEndPoint or DnsEndPoint
/// before any lookup, whatever subclass or equality it brings, and the registry's fast path
/// compares by the key's members; a destination nothing may be sent to (multicast, broadcast, the
/// unspecified address) is refused before any socket exists. The pool-level consequences are in
/// <see cref="SocketPoolInputTests"/>.
/// </summary>
public sealed class DestinationKeysTests
{
    private static readonly IPEndPoint Plain = new(IPAddress.Parse("127.0.0.1"), 8080);

    [Fact]
    public void Normalize_PlainEndPoints_AreTheCallersObjects()
    {
        var name = new DnsEndPoint("service.test", 80);

        Assert.Same(Plain, DestinationKeys.Normalize(Plain));
        Assert.Same(name, DestinationKeys.Normalize(name));
    }

    [Fact]
    public void Normalize_IPEndPointSubclass_IsAPlainEndPointOfTheAddressItNames()
    {
        var key = DestinationKeys.Normalize(new OwnEqualityIPEndPoint(Plain));

        Assert.Equal(typeof(IPEndPoint), key.GetType());
        Assert.Equal(typeof(IPAddress), ((IPEndPoint)key).Address.GetType());
        Assert.Equal(Plain, key);
        Assert.Equal(Plain.GetHashCode(), key.GetHashCode());
    }

    [Fact]
    public void Normalize_AddressSubclass_IsAPlainAddressOfItsBytes()
    {
        var key = (IPEndPoint)DestinationKeys.Normalize(new IPEndPoint(new AgreeableAddress("127.0.0.9"), 80));

        Assert.Equal(typeof(IPAddress), key.Address.GetType());
        Assert.Equal(IPAddress.Parse("127.0.0.9"), key.Address);
        Assert.NotEqual(IPAddress.Loopback, key.Address);
    }

    [Fact]
    public void Normalize_IPv4MappedAddress_IsTheIPv4Address()
    {
        var key = (IPEndPoint)DestinationKeys.Normalize(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 80));

        Assert.Equal(new IPEndPoint(IPAddress.Loopback, 80), key);
        Assert.Equal(AddressFamily.InterNetwork, key.AddressFamily);
    }

    [Fact]
    public void Normalize_DnsEndPointSubclass_IsAPlainDnsEndPointWithTheFamilyItClaims()
    {
        var key = DestinationKeys.Normalize(new IPv6OnlyDnsEndPoint("service.test", 443));

        Assert.Equal(typeof(DnsEndPoint), key.GetType());
        Assert.Equal(new DnsEndPoint("service.test", 443, AddressFamily.InterNetworkV6), key);
    }

    [Fact]
    public void Normalize_OtherKindsAndNull_AreRefused()
    {
        Assert.Contains(nameof(UnixDomainSocketEndPoint), Assert.Throws<ArgumentException>(() => DestinationKeys.Normalize(new UnixDomainSocketEndPoint("/tmp/x.sock"))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentNullException>(() => DestinationKeys.Normalize(null!));
    }

    [Fact]
    public void Normalize_TheRuntimesReadOnlyAddresses_AreUsedAsTheyAre()
    {
        var loopback = new IPEndPoint(IPAddress.Loopback, 80); // IPAddress.Loopback is a read-only subclass of the runtime's

        Assert.Same(loopback, DestinationKeys.Normalize(loopback));
    }

    [Fact]
    public void IsKeyOf_AskedWithAnAddressThatEqualsEverything_ComparesItsBytes()
    {
        var liar = new IPEndPoint(new AgreeableAddress("127.0.0.9"), Plain.Port);

        Assert.False(DestinationKeys.IsKeyOf(Plain, liar));
        Assert.True(DestinationKeys.IsKeyOf(Plain, new IPEndPoint(new AgreeableAddress("127.0.0.1"), Plain.Port)));
    }

    [Fact]
    public void IsKeyOf_SubclassesNamingTheKey_Match_AndOthersDoNot()
    {
        var name = new DnsEndPoint("service.test", 80);

        Assert.True(DestinationKeys.IsKeyOf(Plain, new OwnEqualityIPEndPoint(Plain)));
        Assert.False(DestinationKeys.IsKeyOf(Plain, new IPEndPoint(IPAddress.Loopback, 8081)));
        Assert.False(DestinationKeys.IsKeyOf(Plain, new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 8080))); // found by the slow path
        Assert.True(DestinationKeys.IsKeyOf(name, new DnsEndPoint("service.test", 80)));
        Assert.False(DestinationKeys.IsKeyOf(name, new IPv6OnlyDnsEndPoint("service.test", 80)));
        Assert.True(DestinationKeys.IsKeyOf(DestinationKeys.Copy(DestinationKeys.Normalize(new IPv6OnlyDnsEndPoint("service.test", 80))), new IPv6OnlyDnsEndPoint("service.test", 80)));
        Assert.False(DestinationKeys.IsKeyOf(name, Plain));
        Assert.False(DestinationKeys.IsKeyOf(Plain, name));
    }

    [Theory]
    [InlineData("127.0.0.1", 0, "has port 0")]
    [InlineData("0.0.0.0", 80, "the unspecified address")]
    [InlineData("::", 80, "the unspecified address")]
    [InlineData("255.255.255.255", 80, "the limited broadcast address")]
    [InlineData("239.1.2.3", 80, "is a multicast address")]
    [InlineData("ff05::2", 80, "is a multicast address")]
    public void WhyNotConnectable_NamesTheRule(string address, int port, string expected)
        => Assert.Contains(expected, DestinationKeys.WhyNotConnectable(new IPEndPoint(IPAddress.Parse(address), port), new FakeTimeProvider()), StringComparison.Ordinal);

    [Fact]
    public void WhyNotConnectable_UnicastAddress_IsNull()
        => Assert.Null(DestinationKeys.WhyNotConnectable(new IPEndPoint(IPAddress.IPv6Loopback, 80), new FakeTimeProvider()));

    [Fact]
    public void Validate_MulticastAndLimitedBroadcast_AreRejectedUpFront()
    {
        // A pure check: no socket exists here, so nothing can be sent to these addresses.
        var time = TimeProvider.System;
        foreach (var address in new[] { "224.0.0.1", "239.255.255.250", "ff02::1", "255.255.255.255", "0.0.0.0", "::" })
        {
            var error = Assert.Throws<ArgumentException>(() => DestinationKeys.Validate(new IPEndPoint(IPAddress.Parse(address), 80), time));
            Assert.Equal("destination", error.ParamName);
        }

        DestinationKeys.Validate(new IPEndPoint(IPAddress.Loopback, 80), time);
        DestinationKeys.Validate(new IPEndPoint(IPAddress.IPv6Loopback, 80), time);
    }

    private sealed class OwnEqualityIPEndPoint(IPEndPoint endPoint) : IPEndPoint(endPoint.Address, endPoint.Port)
    {
        public override bool Equals(object? comparand) => ReferenceEquals(this, comparand);

        public override int GetHashCode() => RuntimeHelpers.GetHashCode(this);
    }

    private sealed class IPv6OnlyDnsEndPoint(string host, int port) : DnsEndPoint(host, port)
    {
        public override AddressFamily AddressFamily => AddressFamily.InterNetworkV6;
    }

    private sealed class AgreeableAddress(string text) : IPAddress(IPAddress.Parse(text).GetAddressBytes())
    {
        public override bool Equals(object? comparand) => comparand is IPAddress;

        public override int GetHashCode() => 0;
    }
}
