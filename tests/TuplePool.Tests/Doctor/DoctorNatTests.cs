using System.Text.Json;
using TuplePool.Doctor;

namespace TuplePool.Tests.Doctor;

/// <summary><c>tuplepool doctor --config</c> with a <c>Nat</c> section, and conntrack's timeouts read from a captured /proc.</summary>
public sealed class DoctorNatTests : IDisposable
{
    // 1,024 ports, 120 s after a FIN: 8.53 new connections/s.
    private const string TwoNetworks = """
        { "TuplePool": { "AcquireTimeout": "00:00:05", "Nat": { "PortsPerDestination": 1024, "HoldAfterClose": "00:02:00", "Destinations": ["198.51.100.0/24", "203.0.113.0/24"] } } }
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
    public void Nat_EachConfiguredNetwork_GetsItsSustainableRate()
    {
        var (exit, json, _) = RunJson("--config", Config(TwoNetworks));

        Assert.Equal(ExitCodes.Ok, exit);
        foreach (var network in new[] { "198.51.100.0/24", "203.0.113.0/24" })
        {
            var line = Single(json, "nat " + network);
            Assert.Equal("ok", Verdict(line));
            Assert.Equal(8.5, Number(line, "sustainableNewConnectionsPerSecond"));
            Assert.Contains("1,024 ports / 120 s held after a close = about 8.5 new connections/s", Summary(line), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Nat_NoDestinationsListed_OneLineForEveryNonLoopbackDestination_LoopbackIsNotBehindIt()
    {
        var config = Config("""{ "TuplePool": { "Nat": { "PortsPerDestination": 128, "HoldAfterClose": "00:04:00" } } }""");

        var (_, all, _) = RunJson("--config", config);
        var (_, named, _) = RunJson("--config", config, "--destination", "127.0.0.1:6379", "--destination", "198.51.100.7:443");

        Assert.Equal(0.5, Number(Single(all, "nat (every non-loopback destination)"), "sustainableNewConnectionsPerSecond")); // 128 / 240 s
        Assert.Contains("not behind the NAT", Summary(Single(named, "nat 127.0.0.1:6379")), StringComparison.Ordinal);
        Assert.Equal(0.5, Number(Single(named, "nat 198.51.100.7:443"), "sustainableNewConnectionsPerSecond"));
        Assert.Empty(Findings(named, "nat (every non-loopback destination)"));
    }

    [Fact]
    public void Nat_DestinationOutsideTheListedNetworks_IsNotJudgedAgainstTheNat()
    {
        var (_, json, _) = RunJson("--config", Config(TwoNetworks), "--destination", "192.0.2.9:443", "--rate", "1000");

        var line = Single(json, "nat 192.0.2.9:443");
        Assert.Equal("ok", Verdict(line));
        Assert.StartsWith("not behind the NAT", Summary(line), StringComparison.Ordinal);
    }

    [Fact]
    public void Nat_RateWithinTheNat_NoWaiting()
    {
        // 5/s x 120 s + 100 open = 700 of 1,024.
        var (exit, json, _) = RunJson("--config", Config(TwoNetworks), "--destination", "198.51.100.7:443", "--rate", "5", "--concurrent", "100");

        Assert.Equal(ExitCodes.Ok, exit);
        var line = Single(json, "nat 198.51.100.7:443");
        Assert.Equal("ok", Verdict(line));
        Assert.Equal(700, Number(line, "portsNeeded"));
        Assert.Equal(0, Number(line, "waitingShare"));
        Assert.EndsWith("700 ports needed (5 x 120 s + 100), 68 % of the NAT's: no waiting", Summary(line), StringComparison.Ordinal);
    }

    [Fact]
    public void Nat_PortsNeeded_IsNotOneTooManyFromBinaryFractions()
    {
        // 1.1 x 100 is 110.00000000000001 as a double: 110 ports, not 111.
        var config = Config("""{ "TuplePool": { "Nat": { "PortsPerDestination": 1024, "HoldAfterClose": "00:01:40" } } }""");

        var (_, json, _) = RunJson("--config", config, "--destination", "198.51.100.7:443", "--rate", "1.1");

        Assert.Equal(110, Number(Single(json, "nat 198.51.100.7:443"), "portsNeeded"));
    }

    [Fact]
    public void Nat_RateBeyondTheNat_PredictsTheWaitingAndFails()
    {
        // 20/s x 120 s + 124 open = 2,524 of 1,024: 900 ports for new connections come back at
        // 900 / 120 s = 7.5/s, so 62.5 % of the callers wait in vain; 900 / 20 = 45 s to run out.
        var (exit, json, _) = RunJson("--config", Config(TwoNetworks), "--destination", "198.51.100.7:443", "--rate", "20", "--concurrent", "124");

        Assert.Equal(ExitCodes.Failed, exit);
        var line = Single(json, "nat 198.51.100.7:443");
        Assert.Equal("fail", Verdict(line));
        Assert.Equal(2524, Number(line, "portsNeeded"));
        Assert.Equal(7.5, Number(line, "servedPerSecond"));
        Assert.Equal(0.625, Number(line, "waitingShare"));
        Assert.Equal(45, Number(line, "secondsUntilFull"));
        var advice = line.GetProperty("advice").GetString();
        Assert.Contains("up to AcquireTimeout (5 s)", advice, StringComparison.Ordinal);
        Assert.Contains("TupleBudgetExhaustedException naming the NAT", advice, StringComparison.Ordinal);
    }

    [Fact]
    public void Nat_OpenConnectionsAloneFillTheNat_Fails()
    {
        var (exit, json, _) = RunJson("--config", Config(TwoNetworks), "--destination", "203.0.113.1:80", "--rate", "1", "--concurrent", "1024");

        Assert.Equal(ExitCodes.Failed, exit);
        var line = Single(json, "nat 203.0.113.1:80");
        Assert.Equal(1, Number(line, "waitingShare"));
        Assert.Contains("the connections open at once alone fill the NAT", Summary(line), StringComparison.Ordinal);
    }

    [Fact]
    public void Nat_NotSet_SaysSoAndRateHasNothingToJudge()
    {
        var config = Config("""{ "TuplePool": { "MaxConnectionsPerDestination": 100 } }""");

        var (_, plain, _) = RunJson("--config", config);
        var (_, asked, _) = RunJson("--config", config, "--rate", "10");

        Assert.Equal("ok", Verdict(Single(plain, "nat")));
        Assert.StartsWith("Nat not set", Summary(Single(plain, "nat")), StringComparison.Ordinal);
        Assert.Equal("warn", Verdict(Single(asked, "nat")));
    }

    [Theory]
    [InlineData(null, "ok")]
    [InlineData("00:01:00", "ok")]
    [InlineData("00:05:00", "warn")]
    public void Nat_IdleTimeout_IsJudgedAgainstKeepAlive(string? keepAliveTime, string expected)
    {
        var keepAlive = keepAliveTime is null ? string.Empty : $$""", "KeepAlive": { "Time": "{{keepAliveTime}}" }""";
        var config = Config($$"""{ "TuplePool": { "Nat": { "PortsPerDestination": 128, "IdleTimeout": "00:04:00" }{{keepAlive}} } }""");

        var (_, json, _) = RunJson("--config", config);

        Assert.Equal(expected, Verdict(Single(json, "nat idle timeout")));
    }

    [Fact]
    public void ConntrackTimeouts_Reported_AndAConfiguredHoldShorterThanConntrackWarns()
    {
        _proc.Write("sys/net/netfilter/nf_conntrack_tcp_timeout_time_wait", "120\n")
            .Write("sys/net/netfilter/nf_conntrack_tcp_timeout_close", "10\n")
            .Write("sys/net/netfilter/nf_conntrack_tcp_timeout_established", "432000\n");
        var shortHold = Config("""{ "TuplePool": { "Nat": { "PortsPerDestination": 1000, "HoldAfterClose": "00:01:00" } } }""");
        var conntrackHold = Config("""{ "TuplePool": { "Nat": { "PortsPerDestination": 1000, "HoldAfterClose": "00:02:00" } } }""");

        var (_, bare, _) = RunJson();
        var (_, tooShort, _) = RunJson("--config", shortHold);
        var (_, matching, _) = RunJson("--config", conntrackHold);

        var line = Single(bare, "conntrack timeouts");
        Assert.Equal("ok", Verdict(line));
        Assert.Equal("time_wait 120 s, close 10 s, established 432,000 s", Summary(line));
        Assert.Equal(120, Number(line, "timeWaitSeconds"));
        var warn = Single(tooShort, "conntrack timeouts");
        Assert.Equal("warn", Verdict(warn));
        Assert.Contains("Nat.HoldAfterClose 60 s < time_wait 120 s", Summary(warn), StringComparison.Ordinal);
        Assert.Equal("ok", Verdict(Single(matching, "conntrack timeouts")));
    }

    [Fact]
    public void ConntrackTimeouts_WithoutConntrack_NoLine()
    {
        // The captured host has nf_conntrack_count and _max but no TCP timeout files.
        var (_, json, _) = RunJson();

        Assert.Empty(Findings(json, "conntrack timeouts"));
    }

    [Theory]
    [InlineData("doctor", "--rate", "10")]
    [InlineData("doctor", "--destination", "198.51.100.7:443")]
    [InlineData("doctor", "--config", "CONFIG", "--destination", "198.51.100.7")]
    [InlineData("doctor", "--config", "CONFIG", "--destination", "example.com:443")]
    [InlineData("doctor", "--config", "CONFIG", "--rate", "0")]
    [InlineData("doctor", "--config", "CONFIG", "--rate", "fast")]
    [InlineData("doctor", "--config", "CONFIG", "--concurrent", "5")]
    [InlineData("doctor", "--config", "CONFIG", "--rate", "5", "--concurrent", "-1")]
    public void Nat_BadArguments_ExitTwoWithAMessage(params string[] args)
    {
        var config = Config(TwoNetworks);
        var (exit, output, error) = Run([.. args.Select(a => a == "CONFIG" ? config : a)]);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Empty(output);
        Assert.StartsWith("tuplepool doctor: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Nat_Table_ShowsTheRateLine()
    {
        var (_, table, _) = Run("doctor", "--proc-root", _proc.Root, "--config", Config(TwoNetworks), "--destination", "198.51.100.7:443", "--rate", "20");

        Assert.Contains("fail    nat 198.51.100.7:443", table, StringComparison.Ordinal);
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

    private static double Number(JsonElement finding, string name) => finding.GetProperty("data").GetProperty(name).GetDouble();
}
