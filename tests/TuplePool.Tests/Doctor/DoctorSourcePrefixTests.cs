using System.Net;
using System.Text.Json;
using TuplePool.Doctor;
using TuplePool.Options;

namespace TuplePool.Tests.Doctor;

/// <summary>
/// <c>tuplepool doctor --config</c> with <c>SourcePrefixes</c>, on captured /proc text: each prefix
/// probed as the pool probes it at start (an address of it binds on this host; for IPv6, or a local
/// route in the captured <c>net/ipv6_route</c> covers it), and the capacity that then is not bounded
/// by the tuples. 127.0.0.0/8 is served whole by <c>lo</c> on Linux; 198.18.0.0/15 and 2001:2::/48
/// (the benchmarking ranges) are not served here unless a test says so. Binding sends nothing.
/// </summary>
public sealed class DoctorSourcePrefixTests : IDisposable
{
    private const string Ipv6RouteFile = "net/ipv6_route";

    // /proc/net/ipv6_route in a namespace after `ip -6 route add local 2001:2:0:1::/64 dev lo`
    // (Linux 6.18): the local route (flags 0x80000000), ::1, and a route that is not local.
    private const string LocalRouteFor2001_2_0_1 = """
        20010002000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 80000001       lo
        00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo
        20010002000000020000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001     eth0

        """;

    private const string NotLocalRouteOnly = """
        20010002000000010000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001     eth0

        """;

    private readonly CapturedProc _proc = new();
    private readonly List<string> _files = [];

    public void Dispose()
    {
        _proc.Dispose();
        foreach (var file in _files)
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Prefix_ServedHere_IsOkWithItsAddressCount_AndTheSourcesLineSaysTheKernelDoesNotChoose()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "127.0.0.0/8 is served whole by lo on Linux only");

        var (exit, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["127.64.0.0/16"] } }"""));

        Assert.Equal(ExitCodes.Ok, exit);
        var prefix = Single(json, "source prefix");
        Assert.Equal("ok", Verdict(prefix));
        Assert.Equal("127.64.0.0/16: served by this host (an address of it, picked at random, binds); 65,534 addresses", Summary(prefix));
        Assert.Equal("65534", Text(prefix, "addresses"));
        Assert.Equal(16, Number(prefix, "hostBits"));
        Assert.True(prefix.GetProperty("data").GetProperty("served").GetBoolean());
        var sources = Summary(Single(json, "sources"));
        Assert.StartsWith("none listed: new connections take their source from the IPv4 source prefix below, not from the kernel; IPv6 destinations have no source", sources, StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_NotServedHere_FailsOnce_WithTheRouteToAdd()
    {
        var network = IPNetwork.Parse("198.18.200.0/24");
        Assert.SkipWhen(SourceAddressProbe.TryBind(PrefixAddresses.RandomAddress(network)) is null, "this host serves 198.18.200.0/24 (a local route), so it cannot show the finding");

        var (exit, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourceAddresses": ["127.0.0.2"], "SourcePrefixes": ["198.18.200.0/24"] } }"""));

        Assert.Equal(ExitCodes.Failed, exit);
        var prefix = Single(json, "source prefix");
        Assert.Equal("fail", Verdict(prefix));
        Assert.StartsWith("198.18.200.0/24 is not served by this machine: 198.18.200.", Summary(prefix), StringComparison.Ordinal);
        Assert.Contains("`ip route add local 198.18.200.0/24 dev lo` (AnyIP)", Advice(prefix), StringComparison.Ordinal);
        Assert.False(prefix.GetProperty("data").GetProperty("served").GetBoolean());
        Assert.DoesNotContain(Findings(json, "option"), f => Summary(f).StartsWith("SourcePrefixes", StringComparison.Ordinal)); // one line for one problem
        Assert.Empty(Findings(json, "sources")); // an address is listed: its own "source" line
    }

    [Fact]
    public void Prefix_IPv6_ALocalRouteInTheCapturedTable_IsServed()
    {
        var network = IPNetwork.Parse("2001:2:0:1::/64");
        Assert.SkipWhen(SourceAddressProbe.TryBind(PrefixAddresses.RandomAddress(network)) is null, "an address of 2001:2:0:1::/64 binds on this host, so the route table is not what decides");
        _proc.Write(Ipv6RouteFile, LocalRouteFor2001_2_0_1);

        var (exit, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["2001:2:0:1::/64"] } }"""));

        Assert.Equal(ExitCodes.Ok, exit);
        var prefix = Single(json, "source prefix");
        Assert.Equal("ok", Verdict(prefix));
        Assert.Equal("2001:2:0:1::/64: served by this host (a local route in /proc/net/ipv6_route covers it); about 2^64 addresses", Summary(prefix));
        Assert.Equal((UInt128.One << 64) - 1, UInt128.Parse(Text(prefix, "addresses"), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Prefix_IPv6_NoLocalRoute_FailsWithTheIp6Route_AndSaysIpFreebindIsNoFix()
    {
        var network = IPNetwork.Parse("2001:2:0:1::/64");
        Assert.SkipWhen(SourceAddressProbe.TryBind(PrefixAddresses.RandomAddress(network)) is null, "an address of 2001:2:0:1::/64 binds on this host, so the route table is not what decides");
        _proc.Write(Ipv6RouteFile, NotLocalRouteOnly);

        var (exit, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["2001:2:0:1::/64"] } }"""));

        Assert.Equal(ExitCodes.Failed, exit);
        var prefix = Single(json, "source prefix");
        Assert.Equal("fail", Verdict(prefix));
        Assert.StartsWith("2001:2:0:1::/64 is not served by this machine: no local route in /proc/net/ipv6_route covers it", Summary(prefix), StringComparison.Ordinal);
        Assert.Contains("`ip -6 route add local 2001:2:0:1::/64 dev lo` (AnyIP)", Advice(prefix), StringComparison.Ordinal);
        Assert.Contains("IP_FREEBIND itself", Advice(prefix), StringComparison.Ordinal);
    }

    [Fact]
    public void Prefix_IPv6_RouteTableNotInTheCapture_IsAWarn_ForTheHostItCameFromReadsItsOwn()
    {
        var network = IPNetwork.Parse("2001:2:0:1::/64");
        Assert.SkipWhen(SourceAddressProbe.TryBind(PrefixAddresses.RandomAddress(network)) is null, "an address of 2001:2:0:1::/64 binds on this host, so the route table is not what decides");
        _proc.Delete(Ipv6RouteFile);

        var (exit, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["2001:2:0:1::/64"] } }"""));

        Assert.Equal(ExitCodes.Ok, exit);
        var prefix = Single(json, "source prefix");
        Assert.Equal("warn", Verdict(prefix));
        Assert.StartsWith("2001:2:0:1::/64 cannot be checked: /proc/net/ipv6_route cannot be read", Summary(prefix), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, prefix.GetProperty("data").GetProperty("served").ValueKind);
    }

    [Fact]
    public void Prefix_TheValidatorRefuses_HasOnlyItsOptionLine_AndNoRouteAdvice()
    {
        var (exit, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["127.64.0.0/16", "127.64.1.0/24", "198.18.200.0/31"] } }"""));

        Assert.Equal(ExitCodes.Failed, exit);
        var options = Findings(json, "option").Select(Summary).ToList();
        Assert.Contains(options, o => o.StartsWith("SourcePrefixes[1]: 127.64.1.0/24 overlaps SourcePrefixes[0]", StringComparison.Ordinal));
        Assert.Contains(options, o => o.StartsWith("SourcePrefixes[2]: 198.18.200.0/31 holds too few addresses", StringComparison.Ordinal));
        var prefix = Single(json, "source prefix"); // 127.64.0.0/16 alone
        Assert.StartsWith("127.64.0.0/16", Summary(prefix), StringComparison.Ordinal);
    }

    [Fact]
    public void PoolCapacity_WithAPrefix_TheTupleSpaceIsNotTheLimit_TheOpenFileLimitIs_AndTheLedgerFollowsAddressesInUse()
    {
        // 100 ports x 65,534 addresses; the captured soft open-file limit is 20,000.
        var (_, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourceAddresses": ["127.0.0.2"], "SourcePrefixes": ["127.64.0.0/16"], "LocalPortRange": "40000-40099" } }"""));

        var capacity = Single(json, "pool capacity");
        Assert.Equal("ok", Verdict(capacity));
        Assert.Equal("100 per tuple x 65,535 source addresses of one family = 6,553,500 to one destination: the tuple space is not the limit, the open-file limit (20,000) is", Summary(capacity));
        Assert.Contains("the ledger follows only the addresses in use (open, or charged TIME_WAIT), not all 65,534 the prefixes lend", Advice(capacity), StringComparison.Ordinal);
        Assert.Equal("65535", Text(capacity, "sourceAddressesPerFamily"));
        Assert.Equal(1, Number(capacity, "sourcesPerFamily"));
        Assert.Equal(6_553_500, Number(capacity, "perDestination"));
        Assert.False(capacity.GetProperty("data").GetProperty("tupleSpaceIsTheLimit").GetBoolean());
        var files = Single(json, "open files");
        Assert.Equal("warn", Verdict(files)); // 6,553,500 sockets to one destination, 20,000 files
        Assert.Equal(6_553_500, Number(files, "socketsPerDestination"));
    }

    [Fact]
    public void PoolCapacity_ConnectionCapBelowTheOpenFileLimit_IsTheLimitNamed()
    {
        var (_, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["2001:2:0:1::/64"], "LocalPortRange": "40000-40099", "MaxConnectionsPerDestination": 5000 } }"""));

        var capacity = Single(json, "pool capacity");
        Assert.Equal("100 per tuple x about 2^64 source addresses of one family = about 2^71 to one destination: the tuple space is not the limit, MaxConnectionsPerDestination (5,000) is", Summary(capacity));
        Assert.Equal(5000, Number(capacity, "perDestination"));
        Assert.Equal("ok", Verdict(Single(json, "open files"))); // 5,000 < 20,000
    }

    [Fact]
    public void PoolCapacity_ASmallPrefix_TheTupleSpaceIsStillTheLimit()
    {
        // 127.64.0.0/29 lends 6 addresses: 6 x 100 ports, below every other bound.
        var (_, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["127.64.0.0/29"], "LocalPortRange": "40000-40099" } }"""));

        var capacity = Single(json, "pool capacity");
        Assert.Equal("100 per tuple x 6 source addresses of one family = 600 to one destination", Summary(capacity));
        Assert.True(capacity.GetProperty("data").GetProperty("tupleSpaceIsTheLimit").GetBoolean());
        Assert.Equal(600, Number(capacity, "perDestination"));
    }

    [Fact]
    public void PoolCapacity_BehindANat_SaysThePrefixDoesNotWidenIt()
    {
        var (_, json, _) = RunJson("--config", Config("""{ "TuplePool": { "SourcePrefixes": ["127.64.0.0/16"], "Nat": { "PortsPerDestination": 1024, "HoldAfterClose": "00:02:00" } } }"""));

        Assert.Contains("a source prefix does not widen that", Advice(Single(json, "pool capacity")), StringComparison.Ordinal);
    }

    [Fact]
    public void Table_ShowsThePrefixLine_AndTheRouteToAdd()
    {
        var network = IPNetwork.Parse("198.18.200.0/24");
        Assert.SkipWhen(SourceAddressProbe.TryBind(PrefixAddresses.RandomAddress(network)) is null, "this host serves 198.18.200.0/24 (a local route), so it cannot show the finding");

        var (exit, table, _) = Run("doctor", "--proc-root", _proc.Root, "--config", Config("""{ "TuplePool": { "SourcePrefixes": ["198.18.200.0/24"] } }"""));

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("fail    source prefix", table, StringComparison.Ordinal);
        Assert.Contains("198.18.200.0/24 is not served by this machine", table, StringComparison.Ordinal);
        Assert.Contains("`ip route add local", table, StringComparison.Ordinal); // the advice, wrapped below the line
    }

    private (int Exit, JsonDocument Json, string Error) RunJson(params string[] extra)
    {
        var (exit, output, error) = Run(["doctor", "--json", "--proc-root", _proc.Root, .. extra]);
        Assert.True(exit is ExitCodes.Ok or ExitCodes.Failed, $"exit code {exit}: {error}");
        return (exit, JsonDocument.Parse(output), error);
    }

    private static (int Exit, string Output, string Error) Run(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = DoctorCommand.Run(args, output, error);
        return (exit, output.ToString(), error.ToString());
    }

    private string Config(string json)
    {
        var path = Path.Combine(Path.GetTempPath(), "tuplepool-doctor-" + Guid.NewGuid().ToString("N") + ".json");
        File.WriteAllText(path, json);
        _files.Add(path);
        return path;
    }

    private static IEnumerable<JsonElement> Findings(JsonDocument json, string check)
        => json.RootElement.GetProperty("findings").EnumerateArray().Where(f => Check(f) == check);

    private static JsonElement Single(JsonDocument json, string check) => Assert.Single(Findings(json, check));

    private static string Check(JsonElement finding) => finding.GetProperty("check").GetString()!;

    private static string Verdict(JsonElement finding) => finding.GetProperty("verdict").GetString()!;

    private static string Summary(JsonElement finding) => finding.GetProperty("summary").GetString()!;

    private static string Advice(JsonElement finding) => finding.GetProperty("advice").GetString()!;

    private static long Number(JsonElement finding, string name) => finding.GetProperty("data").GetProperty(name).GetInt64();

    private static string Text(JsonElement finding, string name) => finding.GetProperty("data").GetProperty(name).GetString()!;
}
