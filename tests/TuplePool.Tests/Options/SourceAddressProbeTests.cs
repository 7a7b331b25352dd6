using System.Net;
using TuplePool.Options;

namespace TuplePool.Tests.Options;

public sealed class SourceAddressProbeTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.0.0.2")]
    [InlineData("127.0.0.5")]
    public void TryBind_LoopbackAddress_Null(string address)
    {
        // Linux routes all of 127.0.0.0/8 to lo, so every 127.x address is local.
        Assert.Null(SourceAddressProbe.TryBind(IPAddress.Parse(address)));
    }

    [Fact]
    public void TryBind_Ipv6Loopback_NullOrNoIpv6Support()
    {
        var result = SourceAddressProbe.TryBind(IPAddress.IPv6Loopback);

        Assert.True(result is null || result.Contains("IPv6", StringComparison.Ordinal), result);
    }

    [Theory]
    [InlineData("192.0.2.1")]
    [InlineData("198.51.100.7")]
    public void TryBind_AddressNotOnThisMachine_SaysNotAssigned(string address)
    {
        // TEST-NET addresses: bound only, never connected to.
        var result = SourceAddressProbe.TryBind(IPAddress.Parse(address));

        Assert.NotNull(result);
        Assert.StartsWith("is not assigned to this machine", result, StringComparison.Ordinal);
    }
}
