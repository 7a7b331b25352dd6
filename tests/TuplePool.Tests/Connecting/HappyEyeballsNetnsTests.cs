using System.Globalization;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// Happy Eyeballs where it matters: a namespace whose nftables drop (not reject) IPv6 SYNs to the
/// service port, and a name that resolves to ::1 and 127.0.0.1 there. Through the pool's public
/// API (a DnsEndPoint) the connect lands on IPv4 after about the Connection Attempt Delay, far
/// below ConnectTimeout, with nothing left open or charged; with Happy Eyeballs off the same
/// connect waits out the IPv6 attempt's ConnectTimeout first, which shows the SYNs really vanish.
/// </summary>
public sealed class HappyEyeballsNetnsTests
{
    private const int Port = 21001;
    private const int DelayMs = 250;
    private const int ConnectTimeoutMs = 2000;

    private static Netns CreateNamespace()
    {
        var ns = Netns.Create("he");
        try
        {
            ns.WriteHosts("::1 tp-dual\n127.0.0.1 tp-dual\n");
            ns.Nft($$"""
                table inet tuplepool_test {
                    chain output {
                        type filter hook output priority 0; policy accept;
                        ip6 daddr ::1 tcp dport {{Port}} tcp flags & (syn | ack) == syn drop
                    }
                }
                """);
            return ns;
        }
        catch
        {
            ns.Dispose();
            throw;
        }
    }

    private static (string, string)[] Args(int delayMs) =>
    [
        ("host", "tp-dual"),
        ("port", Port.ToString(CultureInfo.InvariantCulture)),
        ("delay-ms", delayMs.ToString(CultureInfo.InvariantCulture)),
        ("connect-timeout-ms", ConnectTimeoutMs.ToString(CultureInfo.InvariantCulture)),
    ];

    [Fact]
    public async Task IPv6SynsDropped_ConnectsOverIPv4AfterAboutTheDelay_NothingLeftOpenOrCharged()
    {
        if (Netns.SkipReason(needNft: true) is { } why)
        {
            Assert.Skip(why);
        }

        using var ns = CreateNamespace();
        var result = await ns.RunScenarioAsync("happy-eyeballs", Args(DelayMs));

        Assert.Equal("InterNetwork", (string?)result["remoteFamily"]);
        var elapsed = (double)result["elapsedMs"]!;
        Assert.InRange(elapsed, DelayMs * 0.9, ConnectTimeoutMs / 2.0);
        Assert.Equal(1, (int)result["activeWhileLeased"]!);
        var whileLeased = result["clientSocketsWhileLeased"]!.AsObject();
        var only = Assert.Single(whileLeased); // the IPv6 SYN_SENT socket is already gone
        Assert.Equal("ESTAB", only.Key);
        Assert.Equal(1, (int)only.Value!);
        Assert.Equal(0, (int)result["activeAfter"]!);
        Assert.Equal(0, (int)result["timeWaitAfter"]!);
        Assert.Empty(result["clientSocketsAfter"]!.AsObject());
    }

    [Fact]
    public async Task IPv6SynsDropped_HappyEyeballsOff_WaitsOutTheIPv6ConnectTimeoutFirst()
    {
        if (Netns.SkipReason(needNft: true) is { } why)
        {
            Assert.Skip(why);
        }

        using var ns = CreateNamespace();
        var result = await ns.RunScenarioAsync("happy-eyeballs", Args(-1));

        Assert.Equal("InterNetwork", (string?)result["remoteFamily"]);
        Assert.True((double)result["elapsedMs"]! >= ConnectTimeoutMs * 0.9, result.ToJsonString());
        Assert.Equal(0, (int)result["activeAfter"]!);
        Assert.Empty(result["clientSocketsAfter"]!.AsObject());
    }
}
