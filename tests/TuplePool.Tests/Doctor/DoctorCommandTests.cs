using System.Text.Json;
using TuplePool.Doctor;
using TuplePool.Platform;
using TuplePool.Tests.Platform;

namespace TuplePool.Tests.Doctor;

/// <summary><c>tuplepool doctor</c> on captured /proc text (--proc-root) and once on this host.</summary>
public sealed class DoctorCommandTests : IDisposable
{
    private const int Listen = 0x0A;
    private const int Established = 0x01;
    private const int TimeWait = 0x06;

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
    public void Doctor_ListenerInsideTheRange_WarnsWithPortAndProcess()
    {
        _proc.AddSocket("0.0.0.0:33060", "0.0.0.0:0", Listen, inode: 777001)
            .AddSocket("[::]:33060", "[::]:0", Listen, inode: 777002)
            .AddSocket("0.0.0.0:2024", "0.0.0.0:0", Listen, inode: 777003) // below the range: not reported
            .AddProcess(4242, "mysqld", 777001, 777002)
            .AddProcess(99, "sshd", 777003);

        var (exit, json, _) = RunJson();

        Assert.Equal(ExitCodes.Ok, exit);
        var listener = Assert.Single(Findings(json, "listener in range"));
        Assert.Equal("warn", Verdict(listener));
        Assert.Contains("port 33060", Summary(listener), StringComparison.Ordinal);
        Assert.Contains("pid 4242 mysqld", Summary(listener), StringComparison.Ordinal);
        Assert.Equal(2, listener.GetProperty("data").GetProperty("addresses").GetArrayLength());
        // The listener's port is out of every outgoing tuple: 28,232 - 1.
        Assert.Equal(28231, Data(Single(json, "ephemeral range"), "capacityPerTuple"));
    }

    [Fact]
    public void Doctor_ListenerOnAReservedPort_IsOkAndCountedOnce()
    {
        _proc.Write("sys/net/ipv4/ip_local_reserved_ports", "33060\n")
            .AddSocket("0.0.0.0:33060", "0.0.0.0:0", Listen, inode: 5);

        var (_, json, _) = RunJson();

        Assert.Equal("ok", Verdict(Single(json, "listener in range")));
        Assert.Equal(28231, Data(Single(json, "ephemeral range"), "capacityPerTuple"));
        Assert.Equal(1, Data(Single(json, "ephemeral range"), "reservedInRange"));
        Assert.Equal(0, Data(Single(json, "ephemeral range"), "listenersInRange"));
    }

    [Fact]
    public void Doctor_ListenerWhoseProcessIsNotReadable_SaysSo()
    {
        _proc.AddSocket("127.0.0.1:45000", "0.0.0.0:0", Listen, inode: 31337);

        var (_, json, _) = RunJson();

        Assert.Contains("process unknown", Summary(Single(json, "listener in range")), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_FullTuple_FailsWithZeroHeadroomAndExitsOne()
    {
        _proc.Write("sys/net/ipv4/ip_local_port_range", "40000\t40009\n");
        for (var port = 40000; port <= 40009; port++)
        {
            _proc.AddSocket($"127.0.0.2:{port}", "127.0.0.1:3306", TimeWait);
        }

        for (var port = 40000; port < 40003; port++)
        {
            _proc.AddSocket($"127.0.0.3:{port}", "127.0.0.1:3306", Established, inode: (ulong)(9000 + port));

            // The server's half of the same connection: its local port is 3306, so it is no outgoing tuple.
            _proc.AddSocket($"127.0.0.1:3306", $"127.0.0.3:{port}", Established, inode: (ulong)(8000 + port));
        }

        var (exit, json, _) = RunJson();

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Equal(1, json.RootElement.GetProperty("exitCode").GetInt32());
        var full = Single(json, "tuple 127.0.0.2 -> 127.0.0.1:3306");
        Assert.Equal("fail", Verdict(full));
        Assert.Equal(10, Data(full, "timeWait"));
        Assert.Equal(10, Data(full, "capacity"));
        Assert.Equal(0, Data(full, "headroom"));
        var other = Single(json, "tuple 127.0.0.3 -> 127.0.0.1:3306");
        Assert.Equal("ok", Verdict(other));
        Assert.Equal(3, Data(other, "established"));
        Assert.Equal(7, Data(other, "headroom"));
        Assert.Equal(2, Data(Single(json, "outgoing tuples"), "tuples"));
    }

    [Fact]
    public void Doctor_Top_LimitsTheTupleLines_BusiestFirst()
    {
        _proc.AddSocket("127.0.0.2:40000", "127.0.0.1:80", TimeWait)
            .AddSocket("127.0.0.2:40001", "127.0.0.1:81", TimeWait)
            .AddSocket("127.0.0.2:40002", "127.0.0.1:81", TimeWait);

        var (_, json, _) = RunJson("--top", "1");

        var tuple = Assert.Single(json.RootElement.GetProperty("findings").EnumerateArray(), f => Check(f).StartsWith("tuple ", StringComparison.Ordinal));
        Assert.Equal("tuple 127.0.0.2 -> 127.0.0.1:81", Check(tuple));
        Assert.Equal(470.5, tuple.GetProperty("data").GetProperty("newConnectionsPerSecond").GetDouble()); // 28,232 / 60 s
    }

    [Fact]
    public void Doctor_MissingProcFiles_AreWarnLinesNotACrash()
    {
        _proc.Delete("net/tcp")
            .Delete("sys/net/ipv4/tcp_tw_reuse")
            .Delete("sys/net/ipv4/tcp_fin_timeout")
            .Delete("sys/net/ipv4/tcp_timestamps")
            .Delete("self/limits")
            .Delete("sys/net/netfilter/nf_conntrack_count")
            .Delete("sys/net/netfilter/nf_conntrack_max");

        var (exit, json, _) = RunJson();
        var (tableExit, table, error) = Run("doctor", "--proc-root", _proc.Root);

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal(ExitCodes.Ok, tableExit);
        Assert.Empty(error);
        var socketTable = Single(json, "socket table");
        Assert.Equal("warn", Verdict(socketTable));
        Assert.Contains("/proc/net/tcp:", Summary(socketTable), StringComparison.Ordinal);
        Assert.Equal("warn", Verdict(Single(json, "tcp_tw_reuse")));
        Assert.Equal("warn", Verdict(Single(json, "tcp_fin_timeout")));
        Assert.Equal("warn", Verdict(Single(json, "tcp_timestamps")));
        Assert.Equal("warn", Verdict(Single(json, "open files")));
        Assert.Equal("ok", Verdict(Single(json, "conntrack"))); // not loaded is not a problem
        Assert.Contains("warn    tcp_tw_reuse", table, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_MissingPortRange_WarnsAndAssumesTheLinuxDefault()
    {
        _proc.Delete("sys/net/ipv4/ip_local_port_range");

        var (_, json, _) = RunJson();

        var range = Single(json, "ephemeral range");
        Assert.Equal("warn", Verdict(range));
        Assert.Equal(28232, Data(range, "ports"));
        Assert.Contains("ip_local_port_range", range.GetProperty("advice").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0", "1", "warn")]
    [InlineData("1", "1", "ok")]
    [InlineData("2", "1", "ok")]
    [InlineData("1", "0", "warn")] // reuse needs timestamps
    public void Doctor_TcpTwReuse_IsJudgedByModeAndTimestamps(string reuse, string timestamps, string expected)
    {
        _proc.Write("sys/net/ipv4/tcp_tw_reuse", reuse + "\n").Write("sys/net/ipv4/tcp_timestamps", timestamps + "\n");

        var (_, json, _) = RunJson();

        var line = Single(json, "tcp_tw_reuse");
        Assert.Equal(expected, Verdict(line));
        Assert.StartsWith(reuse + " (", Summary(line), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_FinTimeout_IsNamedForFinWait2NotTimeWait()
    {
        var (_, json, _) = RunJson();

        var line = Single(json, "tcp_fin_timeout");
        Assert.Contains("FIN_WAIT_2", Summary(line), StringComparison.Ordinal);
        Assert.Contains("not the TIME_WAIT length", line.GetProperty("advice").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_OldKernelWithTwRecycleOn_FailsAndLacksNewOptions()
    {
        _proc.Write("sys/kernel/osrelease", "4.9.0-19-amd64\n").Write("sys/net/ipv4/tcp_tw_recycle", "1\n");

        var (exit, json, _) = RunJson();

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Equal("fail", Verdict(Single(json, "tcp_tw_recycle")));
        Assert.Equal("ok", Verdict(Single(json, "IP_BIND_ADDRESS_NO_PORT")));
        Assert.Contains("not available", Summary(Single(json, "IP_LOCAL_PORT_RANGE")), StringComparison.Ordinal);
        Assert.Equal("warn", Verdict(Single(json, "crowded connect")));
    }

    [Fact]
    public void Doctor_KernelBefore42_WarnsAboutBindAddressNoPort()
    {
        _proc.Write("sys/kernel/osrelease", "3.10.0-1160.el7.x86_64\n");

        var (_, json, _) = RunJson();

        Assert.Equal("warn", Verdict(Single(json, "IP_BIND_ADDRESS_NO_PORT")));
        Assert.Equal("warn", Verdict(Single(json, "tcp_tw_recycle"))); // unreadable on a kernel that still had it
    }

    [Fact]
    public void Doctor_TwRecycleGoneOnANewKernel_IsOk()
    {
        var (_, json, _) = RunJson();

        var line = Single(json, "tcp_tw_recycle");
        Assert.Equal("ok", Verdict(line));
        Assert.Contains("4.12", Summary(line), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1000", "ok")]
    [InlineData("200000", "warn")]
    [InlineData("262000", "fail")]
    public void Doctor_Conntrack_IsJudgedByHowFullTheTableIs(string count, string expected)
    {
        _proc.Write("sys/net/netfilter/nf_conntrack_count", count + "\n").Write("sys/net/netfilter/nf_conntrack_max", "262144\n");

        var (_, json, _) = RunJson();

        Assert.Equal(expected, Verdict(Single(json, "conntrack")));
    }

    [Fact]
    public void Doctor_OpenFileLimitBelowWhatThePoolNeeds_Warns()
    {
        // Captured limits: 20,000 open files; a default pool may open 28,232 sockets to one destination.
        var (_, json, _) = RunJson();

        var line = Single(json, "open files");
        Assert.Equal("warn", Verdict(line));
        Assert.Equal(20000, Data(line, "soft"));
        Assert.Equal(28232, Data(line, "socketsPerDestination"));
    }

    [Fact]
    public void Doctor_Config_ChecksSourcesSliceAndCapacity()
    {
        _proc.AddSocket("0.0.0.0:40500", "0.0.0.0:0", Listen, inode: 1);
        var config = Config("""
            { "TuplePool": { "SourceAddresses": ["127.0.0.2", "127.0.0.3", "192.0.2.1"], "LocalPortRange": "40000-40999", "MaxConnectionsPerDestination": 1500 } }
            """);

        var (exit, json, _) = RunJson("--config", config);

        Assert.Equal(ExitCodes.Failed, exit); // 192.0.2.1 is not this host's
        var sources = Findings(json, "source").ToList();
        Assert.Equal(["ok", "ok", "fail"], sources.Select(Verdict));
        Assert.Contains("192.0.2.1 is not assigned", Summary(sources[2]), StringComparison.Ordinal);
        var slice = Single(json, "port slice");
        Assert.Equal("warn", Verdict(slice)); // the listener on 40500 is inside the slice
        Assert.Contains("40500", Summary(slice), StringComparison.Ordinal);
        var capacity = Single(json, "pool capacity");
        Assert.Equal(999, Data(capacity, "capacityPerTuple")); // 1,000 ports - the listener
        Assert.Equal(3, Data(capacity, "sourcesPerFamily"));
        Assert.Equal(1500, Data(capacity, "perDestination")); // capped by MaxConnectionsPerDestination
        Assert.Equal("ok", Verdict(Single(json, "open files"))); // 1,500 < 20,000
    }

    [Fact]
    public void Doctor_ConfigSliceOutsideTheSystemRange_Fails()
    {
        var config = Config("""{ "TuplePool": { "LocalPortRange": "20000-20999" } }""");

        var (exit, json, _) = RunJson("--config", config);

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Equal("fail", Verdict(Single(json, "port slice")));
        Assert.Contains(Findings(json, "option"), f => Summary(f).StartsWith("LocalPortRange:", StringComparison.Ordinal));
    }

    [Fact]
    public void Doctor_ConfigValueThatDoesNotBind_FailsWithItsKey()
    {
        var config = Config("""{ "Pools": { "TuplePool": { "backend": { "ConnectTimeout": "soon" } } } }""");

        var (exit, json, _) = RunJson("--config", config, "--section", "Pools:TuplePool:backend");

        Assert.Equal(ExitCodes.Failed, exit);
        Assert.Contains("Pools:TuplePool:backend:ConnectTimeout", Summary(Single(json, "config value")), StringComparison.Ordinal);
        Assert.Equal("ok", Verdict(Single(json, "sources")));
    }

    [Fact]
    public void Doctor_ConfigThatDoesNotParse_ExitsTwoWithTheParserPosition()
    {
        var config = Config("""{ "TuplePool": { "LocalPortRange": "40000-40999", } """);

        var (exit, output, error) = Run("doctor", "--proc-root", _proc.Root, "--config", config);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Empty(output);
        Assert.Contains("is not valid JSON", error, StringComparison.Ordinal);
        Assert.Contains("LineNumber", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_SectionThatDoesNotExist_ExitsTwoNamingWhatIsThere()
    {
        var config = Config("""{ "Logging": {}, "TuplePol": { "LocalPortRange": "40000-40999" } }""");

        var (exit, _, error) = Run("doctor", "--proc-root", _proc.Root, "--config", config);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Contains("no section 'TuplePool'", error, StringComparison.Ordinal);
        Assert.Contains("TuplePol", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("doctor", "--frobnicate")]
    [InlineData("doctor", "--top", "zero")]
    [InlineData("doctor", "--top")]
    [InlineData("doctor", "--section", "TuplePool")]
    [InlineData("doctor", "--config", "/nonexistent/appsettings.json")]
    [InlineData("doctor", "--proc-root", "/nonexistent/proc")]
    [InlineData("diagnose")]
    [InlineData]
    public void Doctor_BadArguments_ExitTwoWithAMessage(params string[] args)
    {
        var (exit, output, error) = Run(args);

        Assert.Equal(ExitCodes.BadInput, exit);
        Assert.Empty(output);
        Assert.StartsWith("tuplepool doctor: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_Table_ExplainsOkLinesOnlyWhenVerbose()
    {
        var (_, brief, _) = Run("doctor", "--proc-root", _proc.Root);
        var (_, verbose, _) = Run("doctor", "--proc-root", _proc.Root, "--verbose");

        const string FinTimeoutMeaning = "not the TIME_WAIT length";
        Assert.Contains("ok      tcp_fin_timeout", brief, StringComparison.Ordinal);
        Assert.DoesNotContain(FinTimeoutMeaning, brief, StringComparison.Ordinal);
        Assert.Contains(FinTimeoutMeaning, verbose, StringComparison.Ordinal);
        Assert.Contains("EMFILE", brief, StringComparison.Ordinal); // the open-files warning keeps its advice
    }

    [Fact]
    public void Doctor_Help_PrintsUsageAndExitsZero()
    {
        var (exit, output, _) = Run("doctor", "--help");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("--proc-root DIR", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_OnThisHost_ExitsZeroOrOneWithParseableJson()
    {
        var (exit, output, error) = Run("doctor", "--json");

        Assert.True(exit is ExitCodes.Ok or ExitCodes.Failed, $"exit code {exit}: {error}");
        using var json = JsonDocument.Parse(output);
        Assert.Equal(exit, json.RootElement.GetProperty("exitCode").GetInt32());
        Assert.Equal("/proc", json.RootElement.GetProperty("procRoot").GetString());
        var findings = json.RootElement.GetProperty("findings").EnumerateArray().ToList();
        Assert.All(findings, f => Assert.Contains(Verdict(f), new[] { "ok", "warn", "fail" }));
        Assert.Equal(exit == ExitCodes.Failed, findings.Any(f => Verdict(f) == "fail"));
        foreach (var check in new[] { "ephemeral range", "tcp_tw_reuse", "tcp_fin_timeout", "kernel", "open files", "conntrack" })
        {
            Assert.Contains(findings, f => Check(f) == check);
        }

        // The table on the same host agrees on the exit code (the host may change in between,
        // but not from "no fail" to "fail" without a reason a human would see in the table).
        var (tableExit, table, _) = Run("doctor");
        Assert.Equal(tableExit == ExitCodes.Failed, table.Contains("\nfail ", StringComparison.Ordinal));
    }

    [Fact]
    public void Doctor_CapturedProc_SaysTheSocketsCameFromProc()
    {
        _proc.AddSocket("127.0.0.2:40000", "127.0.0.1:3306", Established, inode: 4242);

        var (_, json, _) = RunJson();
        var (_, table, _) = Run("doctor", "--proc-root", _proc.Root);

        Assert.Equal("proc_net_tcp", json.RootElement.GetProperty("socketCensus").GetString());
        var census = Single(json, "socket census");
        Assert.Equal("ok", Verdict(census));
        Assert.StartsWith("1 socket from /proc/net/tcp{,6}, 0 repeated lines dropped; captured text under ", Summary(census), StringComparison.Ordinal);
        Assert.Contains("(read from " + _proc.Root + "; sockets from /proc/net/tcp{,6})", table, StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_ProcRepeatsLines_EachSocketCountedOnce()
    {
        // What /proc/net/tcp prints while sockets change: one TIME_WAIT socket three times, and a
        // connection first ESTABLISHED (with its inode) and again after it closed (TIME_WAIT, no inode).
        _proc.AddSocket("127.0.0.2:40000", "127.0.0.1:3306", TimeWait)
            .AddSocket("127.0.0.2:40000", "127.0.0.1:3306", TimeWait)
            .AddSocket("127.0.0.2:40001", "127.0.0.1:3306", Established, inode: 5001)
            .AddSocket("127.0.0.2:40000", "127.0.0.1:3306", TimeWait)
            .AddSocket("127.0.0.2:40001", "127.0.0.1:3306", TimeWait)
            .AddSocket("127.0.0.2:40002", "127.0.0.1:3306", Established, inode: 5002);

        var (_, json, _) = RunJson();

        var tuple = Single(json, "tuple 127.0.0.2 -> 127.0.0.1:3306");
        Assert.Equal(2, Data(tuple, "timeWait")); // 40000, and 40001 in the state it was seen in last
        Assert.Equal(1, Data(tuple, "established"));
        Assert.Equal(3, Data(tuple, "used"));
        var census = Single(json, "socket census");
        Assert.Equal(3, Data(census, "duplicateLinesDropped"));
        Assert.Contains("3 repeated lines dropped", Summary(census), StringComparison.Ordinal);
    }

    [Fact]
    public void Doctor_NetlinkRefused_ReadsProcAndSaysWhy()
    {
        _proc.AddSocket("127.0.0.2:40000", "127.0.0.1:3306", TimeWait);
        var tree = new TuplePool.Doctor.Host.ProcTree(_proc.Root);
        var refusing = new RefusingCensusBackend(Errnos.EPERM);
        var census = new KernelCensus(refusing, new ProcNetTcpCensus(tree), null);

        var report = DoctorCommand.Examine(tree, config: null, top: 10, census);

        Assert.Equal(CensusBackend.ProcNetTcp, report.SocketCensus);
        var line = Assert.Single(report.Findings, f => f.Check == "socket census");
        Assert.Contains("netlink refused: SOCK_DIAG_BY_FAMILY: EPERM (Operation not permitted)", line.Summary, StringComparison.Ordinal);
        Assert.Equal(1, Assert.Single(report.Findings, f => f.Check == "tuple 127.0.0.2 -> 127.0.0.1:3306").Data!["timeWait"]!.GetValue<int>());
    }

    [Fact]
    public void Doctor_OnThisHost_ReadsTheSocketsThroughNetlink()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "NETLINK_SOCK_DIAG is Linux only.");
        Assert.SkipUnless(SockDiagCensus.Default.Probe().IsOk, $"This host refuses NETLINK_SOCK_DIAG ({SockDiagCensus.Default.Probe().Detail}); the doctor reads /proc there.");
        using var listener = ListenerPorts.BindListener(System.Net.IPAddress.Loopback);
        listener.Listen(1);

        var (_, output, _) = Run("doctor", "--json");
        using var json = JsonDocument.Parse(output);
        var (_, table, _) = Run("doctor");

        Assert.Equal("sock_diag", json.RootElement.GetProperty("socketCensus").GetString());
        var census = Single(json, "socket census");
        Assert.Contains("through NETLINK_SOCK_DIAG", Summary(census), StringComparison.Ordinal);
        Assert.True(Data(census, "sockets") >= 1, "our own listener is a socket of this host");
        Assert.Contains("; sockets through NETLINK_SOCK_DIAG)", table, StringComparison.Ordinal);
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

    private static int Data(JsonElement finding, string name) => finding.GetProperty("data").GetProperty(name).GetInt32();
}
