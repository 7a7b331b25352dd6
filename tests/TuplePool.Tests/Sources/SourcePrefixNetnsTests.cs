using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Sources;

/// <summary>
/// Source prefixes over a real link, in namespaces the test builds and removes:
/// <code>
///   client  lo: local 198.18.64.0/24, local 2001:2:0:1::/64 (AnyIP)
///           eth0 198.18.65.1/24, 2001:2:0:ff::1/64 ──veth── eth0 198.18.65.2/24, 2001:2:0:ff::2/64  server
///                                                          (routes to both prefixes via the client)
/// </code>
/// Addresses from 198.18.0.0/15 (RFC 2544) and 2001:2::/48 (RFC 5180), the ranges set aside for
/// benchmarking. With a LocalPortRange of 10 ports, 100 connections to one server port succeed
/// per family because each takes another address of the prefix; <c>ss</c> in the client shows the
/// 100 sources; the ledgers are the 100 addresses in use, and go once their TIME_WAIT charge ends
/// (<c>tcp_tw_reuse=1</c> in the client, so the pool charges the kernel's 1 s reuse delay).
/// </summary>
public sealed class SourcePrefixNetnsTests
{
    private const int Port = 21500;
    private const int Connections = 100;

    private static Netns CreateServer(Netns client)
    {
        var server = Netns.Create("pfxsrv");
        try
        {
            client.AddVeth("eth0", server, "eth0");
            foreach (var (ns, v4, v6) in new[] { (client, "198.18.65.1/24", "2001:2:0:ff::1/64"), (server, "198.18.65.2/24", "2001:2:0:ff::2/64") })
            {
                ns.Exec("ip", "addr", "add", v4, "dev", "eth0");
                ns.Exec("ip", "-6", "addr", "add", v6, "dev", "eth0", "nodad");
                ns.Exec("ip", "link", "set", "eth0", "up");
            }

            server.Exec("ip", "route", "add", "198.18.64.0/24", "via", "198.18.65.1");
            server.Exec("ip", "-6", "route", "add", "2001:2:0:1::/64", "via", "2001:2:0:ff::1");
            return server;
        }
        catch
        {
            server.Dispose();
            throw;
        }
    }

    private static Task<JsonObject> RunClientAsync(Netns client, int connections)
        => client.RunScenarioAsync(
            "source-prefix",
            ("host4", "198.18.65.2"),
            ("host6", "2001:2:0:ff::2"),
            ("port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("prefix4", "198.18.64.0/24"),
            ("prefix6", "2001:2:0:1::/64"),
            ("connections", connections.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ("range", "40000-40009"));

    [Fact]
    public async Task TenPorts_HundredConnectionsPerFamily_EachFromAnotherAddress_LedgersOnlyWhileInUse()
    {
        if (Netns.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using var client = Netns.Create("pfxcli");
        using var server = CreateServer(client);
        client.Exec("ip", "route", "add", "local", "198.18.64.0/24", "dev", "lo");
        client.Exec("ip", "-6", "route", "add", "local", "2001:2:0:1::/64", "dev", "lo");
        client.Sysctl("net.ipv4.tcp_tw_reuse", "1");
        using var listener = server.StartScenario("prefix-server", ("port", Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        await listener.ReadAsync(TimeSpan.FromSeconds(30)); // {"listening": ...}

        var result = await RunClientAsync(client, Connections);

        Assert.Equal("1", (string?)result["tcpTwReuse"]);
        foreach (var family in new[] { "ipv4", "ipv6" })
        {
            var r = result[family]!;
            string Show() => $"{family}: {result.ToJsonString()}";
            Assert.True(r["validation"]!.AsArray().Count == 0, Show()); // start-up validation finds both prefixes served
            Assert.True((int)r["opened"]! == Connections, Show()); // far past the 10 ports of one tuple
            Assert.True((int)r["distinctSources"]! == Connections && (int)r["sourcesOutsidePrefix"]! == 0, Show());
            Assert.True((int)r["ssEstablished"]! == Connections && (int)r["ssDistinctSources"]! == Connections && (int)r["ssSourcesOutsidePrefix"]! == 0, Show());
            Assert.True((int)r["ledgers"]! == Connections && (int)r["ledgerSourcesOutsidePrefix"]! == 0 && (int)r["maxActivePerLedger"]! == 1, Show());
            Assert.True((int)r["ssTimeWaitAfterClose"]! > 0, Show()); // this side closed first: TIME_WAIT
            Assert.True((int)r["ledgersAfterClose"]! > 0 && (int)r["timeWaitChargedAfterClose"]! > 0, Show()); // charged while the kernel holds them
            Assert.True((int)r["ledgersAfterTimeWait"]! == 0, Show()); // then every ledger goes
        }
    }

    [Fact]
    public async Task NoLocalRoutes_StartupValidationNamesEachPrefixAndTheRouteToAdd()
    {
        if (Netns.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using var client = Netns.Create("pfxbare");
        using var server = CreateServer(client); // the link and addresses, but lo serves neither prefix

        var result = await RunClientAsync(client, connections: 0);

        var v4 = Assert.Single(result["ipv4"]!["validation"]!.AsArray());
        var v6 = Assert.Single(result["ipv6"]!["validation"]!.AsArray());
        Assert.StartsWith("TuplePool: SourcePrefixes[0]: 198.18.64.0/24 is not served by this machine", (string?)v4, StringComparison.Ordinal);
        Assert.EndsWith("`ip route add local 198.18.64.0/24 dev lo` (AnyIP).", (string?)v4, StringComparison.Ordinal);
        Assert.StartsWith("TuplePool: SourcePrefixes[0]: 2001:2:0:1::/64 is not served by this machine: no local route in /proc/net/ipv6_route covers it", (string?)v6, StringComparison.Ordinal);
        Assert.EndsWith("`ip -6 route add local 2001:2:0:1::/64 dev lo` (AnyIP).", (string?)v6, StringComparison.Ordinal);
    }
}
