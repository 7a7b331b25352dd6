using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace TuplePool.Tests.Support;

/// <summary>
/// A real NAT for the tests, built of network namespaces (<see cref="Netns"/>) and removed on
/// Dispose, even when the test failed:
/// <code>
///   client 0  198.18.1.2 ─eth0──c1─┐
///   client 1  198.18.2.2 ─eth0──c2─┤ router (ip_forward, nftables masquerade to :FIRST-LAST on srv,
///   …                              │         lowered conntrack timeouts)
///                                  └─srv 198.19.0.1 ──eth0─ server 198.19.0.2
/// </code>
/// Client K's link is 198.18.(K+1).0/24, the server's 198.19.0.0/24: every address comes from
/// 198.18.0.0/15, the range set aside for network benchmarks (RFC 2544), and every lab link
/// carries IPv4 only. Clients route via the router and the server replies via it. The router
/// rewrites each TCP connection to the server to its own address and a port of the narrow range
/// the test gives; with none free it drops the SYN, which the client sees as a connect that times
/// out (DESIGN.md 1.1). Conntrack keeps a mapping after a close for its TCP timeouts, lowered here
/// inside the router namespace so a hold takes seconds (<see cref="NatMappings"/> shows them).
/// The hold is a ceiling, not a promise of drops: since Linux 6.5 (seen here on 6.18), when the range is exhausted,
/// nf_nat_core.c's <c>nf_nat_used_tuple_harder</c> evicts a mapping in TIME_WAIT or CLOSE for a
/// new SYN whose sequence number is ahead of the old connection's, so a reconnect right after a
/// close usually gets through (measured here: 82 of 90 with all 10 mappings in TIME_WAIT). Only
/// live connections filling the range make the drop certain. On kernel 6.18 all six set here are per
/// namespace: set in a namespace they leave the host's unchanged (the lab's tests check that),
/// whereas a host-wide one such as <c>nf_conntrack_max</c> is refused outside the initial
/// namespace. No host sysctl is written. Namespace names follow <see cref="Netns"/>
/// (<c>tp-natrouter-PID-N</c>, …), so a crashed run's lab is removed by the next run.
/// </summary>
/// <example>
/// <code>
/// Assert.SkipWhen(NatLab.SkipReason() is not null, NatLab.SkipReason() ?? "");
/// using var lab = NatLab.Create(clients: 2, new PortRange(40000, 40009), holdAfterClose: TimeSpan.FromSeconds(3), holdAfterReset: TimeSpan.FromSeconds(1));
/// await lab.StartServerAsync(21100);
/// var client = await lab.StartClientAsync(0, 21100, TimeSpan.FromSeconds(2));
/// var opened = await client.SendAsync("open 6", TimeSpan.FromSeconds(15));
/// </code>
/// </example>
public sealed class NatLab : IDisposable
{
    /// <summary>The only addresses the lab uses (besides each namespace's loopback).</summary>
    public static readonly IPNetwork LabNetwork = new(IPAddress.Parse("198.18.0.0"), 15);

    /// <summary>The router's end of the server link: the NAT's rules apply to traffic leaving through it.</summary>
    public const string ServerLink = "srv";

    /// <summary>Conntrack's hold after a FIN: set to <see cref="HoldAfterClose"/>.</summary>
    public const string TimeWaitTimeout = "net.netfilter.nf_conntrack_tcp_timeout_time_wait";

    /// <summary>Conntrack's hold after an RST or a refused connect: set to <see cref="HoldAfterReset"/>.</summary>
    public const string CloseTimeout = "net.netfilter.nf_conntrack_tcp_timeout_close";

    /// <summary>
    /// Every conntrack TCP timeout the lab lowers in the router: the two holds, then the states
    /// between a first FIN and TIME_WAIT and an unanswered SYN, which keep a port for minutes by
    /// default and take <see cref="HoldAfterClose"/> here.
    /// </summary>
    public static readonly IReadOnlyList<string> ConntrackTimeouts =
    [
        TimeWaitTimeout,
        CloseTimeout,
        "net.netfilter.nf_conntrack_tcp_timeout_fin_wait",
        "net.netfilter.nf_conntrack_tcp_timeout_close_wait",
        "net.netfilter.nf_conntrack_tcp_timeout_last_ack",
        "net.netfilter.nf_conntrack_tcp_timeout_syn_sent",
    ];

    private const string LabLink = "eth0";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly List<Netns> _namespaces = [];
    private readonly List<Netns> _clients = [];
    private readonly List<RunningScenario> _processes = [];

    private NatLab(PortRange natPorts, TimeSpan holdAfterClose, TimeSpan holdAfterReset)
    {
        NatPorts = natPorts;
        HoldAfterClose = holdAfterClose;
        HoldAfterReset = holdAfterReset;
    }

    /// <summary>The router (the NAT) between the clients and the server.</summary>
    public Netns Router { get; private set; } = null!;

    /// <summary>The server's namespace.</summary>
    public Netns Server { get; private set; } = null!;

    /// <summary>The client namespaces, each on a link of its own to the router.</summary>
    public IReadOnlyList<Netns> Clients => _clients;

    /// <summary>Every namespace of the lab, by name.</summary>
    public IReadOnlyList<string> NamespaceNames => _namespaces.ConvertAll(ns => ns.Name);

    /// <summary>The server's address: what clients connect to.</summary>
    public static IPAddress ServerAddress { get; } = IPAddress.Parse("198.19.0.2");

    /// <summary>The router's address on the server link: the source the server sees for every client.</summary>
    public static IPAddress NatAddress { get; } = IPAddress.Parse("198.19.0.1");

    /// <summary>The ports the NAT maps connections to (per server IP and port, the NAT's whole budget).</summary>
    public PortRange NatPorts { get; }

    /// <summary>How long the NAT keeps a port after a FIN: conntrack's TIME_WAIT timeout in the router.</summary>
    public TimeSpan HoldAfterClose { get; }

    /// <summary>How long the NAT keeps a port after an RST or a refused connect: conntrack's CLOSE timeout in the router.</summary>
    public TimeSpan HoldAfterReset { get; }

    /// <summary>Client <paramref name="client"/>'s own address (0-based).</summary>
    public static IPAddress ClientAddress(int client) => IPAddress.Parse($"198.18.{client + 1}.2");

    /// <summary>Why the lab cannot be built here, or null: <see cref="Netns.SkipReason"/> with nft.</summary>
    public static string? SkipReason() => Netns.SkipReason(needNft: true);

    /// <summary>
    /// Builds the lab: <paramref name="clients"/> client namespaces behind a NAT of
    /// <paramref name="natPorts"/>, whose holds are <paramref name="holdAfterClose"/> and
    /// <paramref name="holdAfterReset"/> (whole seconds: conntrack counts in seconds).
    /// </summary>
    public static NatLab Create(int clients, PortRange natPorts, TimeSpan holdAfterClose, TimeSpan holdAfterReset)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(clients, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(clients, 254);
        var closeSeconds = WholeSeconds(holdAfterClose, nameof(holdAfterClose));
        var resetSeconds = WholeSeconds(holdAfterReset, nameof(holdAfterReset));
        var lab = new NatLab(natPorts, holdAfterClose, holdAfterReset);
        try
        {
            lab.Build(clients, closeSeconds, resetSeconds);
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Starts the echo server (runner scenario <c>nat-server</c>) on the server's <paramref name="port"/> and waits until it listens.</summary>
    public async Task<RunningScenario> StartServerAsync(int port)
    {
        var server = Track(Server.StartScenario("nat-server", ("port", Text(port))));
        await server.ReadAsync(StartTimeout).ConfigureAwait(false); // {"listening": ...}
        return server;
    }

    /// <summary>
    /// Starts a plain-socket client (runner scenario <c>nat-client</c>) in client
    /// <paramref name="client"/>, connecting to the server's <paramref name="port"/>; it answers
    /// <c>open N</c>, <c>echo</c> and <c>close N</c>.
    /// </summary>
    public async Task<RunningScenario> StartClientAsync(int client, int port, TimeSpan connectTimeout)
    {
        var running = Track(_clients[client].StartScenario(
            "nat-client",
            ("host", ServerAddress.ToString()),
            ("port", Text(port)),
            ("connect-timeout-ms", Text((int)connectTimeout.TotalMilliseconds))));
        await running.ReadAsync(StartTimeout).ConfigureAwait(false); // {"ready": true}
        return running;
    }

    /// <summary>Starts a scenario in client <paramref name="client"/> and leaves it running; Dispose stops it if the test has not.</summary>
    public RunningScenario StartInClient(int client, string scenario, params (string Name, string Value)[] args)
        => Track(_clients[client].StartScenario(scenario, args));

    /// <summary>Runs a scenario to its end in client <paramref name="client"/> and returns its JSON.</summary>
    public Task<JsonObject> RunInClientAsync(int client, string scenario, params (string Name, string Value)[] args)
        => _clients[client].RunScenarioAsync(scenario, args);

    /// <summary>The peers of the server's established connections on <paramref name="port"/>, as the server sees them.</summary>
    public IReadOnlyList<IPEndPoint> ServerPeers(int port)
        => Server.Exec("ss", "-Htn", "state", "established", "sport", "=", $":{Text(port)}").StandardOutput
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => IPEndPoint.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]))
            .ToList();

    /// <summary>
    /// Why <see cref="NatMappings"/> cannot read the router's conntrack table here, or null: it
    /// needs the kernel's <c>/proc/net/nf_conntrack</c> (CONFIG_NF_CONNTRACK_PROCFS) or the
    /// <c>conntrack</c> tool (Debian package conntrack).
    /// </summary>
    public static string? ConntrackSkipReason()
        => File.Exists(ConntrackProcFile) || ConntrackTool() is not null ? null
            : "reading the NAT's mappings needs /proc/net/nf_conntrack (CONFIG_NF_CONNTRACK_PROCFS) or the conntrack tool (Debian package conntrack)";

    /// <summary>
    /// The NAT's mappings of connections to the server's <paramref name="port"/>: the router's
    /// conntrack entries by TCP state (<c>ESTABLISHED</c>, <c>TIME_WAIT</c>, …). An entry that
    /// has expired is not listed.
    /// </summary>
    public IReadOnlyDictionary<string, int> NatMappings(int port)
    {
        // /proc/net is the reading process's namespace: cat runs inside the router.
        // "ipv4 2 tcp 6 117 TIME_WAIT src=198.18.1.2 dst=198.19.0.2 sport=51000 dport=21100 src=... [ASSURED] ..."
        // conntrack -L prints the same from "tcp" on.
        var table = File.Exists(ConntrackProcFile)
            ? Router.Exec("cat", ConntrackProcFile).StandardOutput
            : Router.Exec(ConntrackTool() ?? throw new InvalidOperationException(ConntrackSkipReason()), "-L", "-p", "tcp").StandardOutput;
        var byState = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var line in table.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var tcp = Array.IndexOf(fields, "tcp");
            if (tcp >= 0 && fields.Length > tcp + 3 && fields.FirstOrDefault(f => f.StartsWith("dport=", StringComparison.Ordinal)) == $"dport={Text(port)}")
            {
                var state = fields[tcp + 3];
                byState[state] = byState.GetValueOrDefault(state) + 1;
            }
        }

        return byState;
    }

    /// <summary>Every address assigned in the lab's namespaces (<c>ip -o addr show</c>), loopback included.</summary>
    public IReadOnlyList<(string Namespace, string Device, IPAddress Address)> AssignedAddresses()
    {
        var addresses = new List<(string, string, IPAddress)>();
        foreach (var ns in _namespaces)
        {
            // "2: eth0    inet 198.18.1.2/24 brd ... scope global eth0\ ..."
            foreach (var line in ns.Exec("ip", "-o", "addr", "show").StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                addresses.Add((ns.Name, fields[1], IPAddress.Parse(fields[3].Split('/')[0])));
            }
        }

        return addresses;
    }

    /// <summary>Kills every scenario the lab started, then removes its namespaces (and with them every link).</summary>
    public void Dispose()
    {
        try
        {
            // A process still inside a namespace would keep it alive after ip netns delete.
            foreach (var process in _processes)
            {
                process.Dispose();
            }
        }
        finally
        {
            foreach (var ns in Enumerable.Reverse(_namespaces))
            {
                ns.Dispose();
            }
        }
    }

    private void Build(int clients, int closeSeconds, int resetSeconds)
    {
        Router = Add(Netns.Create("natrouter"));
        Server = Add(Netns.Create("natserver"));
        for (var k = 0; k < clients; k++)
        {
            _clients.Add(Add(Netns.Create("natclient")));
        }

        foreach (var ns in _namespaces)
        {
            // Links created from here on carry IPv4 only: no IPv6 link-local address outside 198.18.0.0/15.
            ns.Sysctl("net.ipv6.conf.default.disable_ipv6", "1");
        }

        Link(Server, "198.19.0", ServerLink);
        for (var k = 0; k < clients; k++)
        {
            Link(_clients[k], $"198.18.{k + 1}", $"c{k + 1}");
        }

        // The NAT first: loading a nat table is what registers conntrack (and its sysctls) in the
        // router when nf_conntrack is a module not loaded yet.
        Router.Nft($$"""
            table ip tuplepool_nat {
                chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    oifname "{{ServerLink}}" ip saddr {{LabNetwork}} meta l4proto tcp masquerade to :{{NatPorts.First}}-{{NatPorts.Last}}
                }
            }
            """);
        Router.Sysctl("net.ipv4.ip_forward", "1");
        foreach (var key in ConntrackTimeouts)
        {
            Router.Sysctl(key, Text(key == CloseTimeout ? resetSeconds : closeSeconds));
        }
    }

    /// <summary>A /24 between the router (.1) and <paramref name="peer"/> (.2, default route via the router).</summary>
    private void Link(Netns peer, string prefix, string routerEnd)
    {
        Router.AddVeth(routerEnd, peer, LabLink);
        Router.Exec("ip", "addr", "add", $"{prefix}.1/24", "dev", routerEnd);
        Router.Exec("ip", "link", "set", routerEnd, "up");
        peer.Exec("ip", "addr", "add", $"{prefix}.2/24", "dev", LabLink);
        peer.Exec("ip", "link", "set", LabLink, "up");
        peer.Exec("ip", "route", "add", "default", "via", $"{prefix}.1");
    }

    private Netns Add(Netns ns)
    {
        _namespaces.Add(ns);
        return ns;
    }

    private RunningScenario Track(RunningScenario process)
    {
        _processes.Add(process);
        return process;
    }

    private const string ConntrackProcFile = "/proc/net/nf_conntrack";

    private static string? ConntrackTool()
        => new[] { "/usr/sbin/conntrack", "/sbin/conntrack", "/usr/bin/conntrack" }.FirstOrDefault(File.Exists);

    private static int WholeSeconds(TimeSpan hold, string name)
        => hold >= TimeSpan.FromSeconds(1) && hold.Ticks % TimeSpan.TicksPerSecond == 0
            ? (int)hold.TotalSeconds
            : throw new ArgumentOutOfRangeException(name, hold, "Conntrack timeouts are whole seconds, at least one.");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
