using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace TuplePool.Demo.Nat;

/// <summary>
/// The demo's own NAT, built of network namespaces and removed on Dispose, on Ctrl+C and when the
/// demo ends in any other way it can notice (ProcessExit); a lab left by a demo that was killed is
/// removed by the next run:
/// <code>
///   host 1  198.18.1.2 ─┐
///   host 2  198.18.2.2 ─┤ router: nftables masquerade to :40000-40009, conntrack holds of seconds,
///   host 3  198.18.3.2 ─┤         redis-server on 198.18.0.1 (lo) for the fleet
///                       └─ 198.19.0.1 ── server 198.19.0.2
/// </code>
/// Every address comes from 198.18.0.0/15 (RFC 2544's range for network benchmarks), every link
/// carries IPv4 only, and every sysctl is set inside a lab namespace, never the host's (conntrack's
/// timeouts are per namespace). The layout is the test suite's NAT lab
/// (tests/TuplePool.Tests/Support/NatLab.cs); the demo cannot reference the tests, so it has this one.
/// </summary>
internal sealed class DemoNatLab : IDisposable
{
    public const string Prefix = "tpdemo";

    /// <summary>Where the hosts connect.</summary>
    public static readonly IPAddress ServerAddress = IPAddress.Parse("198.19.0.2");

    /// <summary>The router's address on no link (its <c>lo</c>): reached by every host, never through the NAT.</summary>
    public static readonly IPAddress RouterAddress = IPAddress.Parse("198.18.0.1");

    private static readonly object s_gate = new();
    private static readonly List<DemoNatLab> s_open = [];
    private static int s_exitHook;

    private readonly List<string> _namespaces = [];
    private readonly List<LabProcess> _processes = [];
    private bool _disposed;

    private DemoNatLab(PortRange natPorts, TimeSpan hold) => (NatPorts, HoldAfterClose) = (natPorts, hold);

    public PortRange NatPorts { get; }

    /// <summary>Conntrack's hold after a FIN (and the other closing states) in the router.</summary>
    public TimeSpan HoldAfterClose { get; }

    /// <summary>Conntrack's hold after an RST in the router.</summary>
    public static TimeSpan HoldAfterReset { get; } = TimeSpan.FromSeconds(1);

    public string Router => _namespaces[0];

    public string Server => _namespaces[1];

    public IReadOnlyList<string> Hosts => _namespaces.GetRange(2, _namespaces.Count - 2);

    /// <summary>Why the lab cannot be built here, or null: it needs Linux, root, <c>ip</c> and <c>nft</c>.</summary>
    public static string? SkipReason()
    {
        if (!IsRoot())
        {
            return "building the NAT lab (network namespaces) needs root: run the demo with sudo to see it";
        }

        return Tool("ip") is null ? "the ip tool (Debian package iproute2) is not installed"
            : Tool("nft") is null ? "nft (Debian package nftables) is not installed"
            : null;
    }

    /// <summary>The redis-server executable, or null when it is not installed.</summary>
    public static string? RedisServer() => Tool("redis-server");

    /// <summary>Builds the lab: <paramref name="hosts"/> host namespaces behind a NAT of <paramref name="natPorts"/> whose hold after a close is <paramref name="hold"/> (whole seconds).</summary>
    public static DemoNatLab Create(int hosts, PortRange natPorts, TimeSpan hold)
    {
        RemoveStale();
        var lab = new DemoNatLab(natPorts, hold);
        lock (s_gate)
        {
            s_open.Add(lab);
            if (Interlocked.Exchange(ref s_exitHook, 1) == 0)
            {
                AppDomain.CurrentDomain.ProcessExit += static (_, _) => DisposeAll();
            }
        }

        try
        {
            lab.Build(hosts);
            return lab;
        }
        catch
        {
            lab.Dispose();
            throw;
        }
    }

    /// <summary>Starts <paramref name="arguments"/> (a mode of this program, <see cref="NatChild"/>) inside <paramref name="ns"/>; Dispose kills it if it still runs.</summary>
    public LabProcess Start(string ns, params string[] arguments)
    {
        var process = LabProcess.Start(ns, arguments);
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    /// <summary>Starts redis-server in the router on <see cref="RouterAddress"/>:<paramref name="port"/>, no persistence.</summary>
    public LabProcess StartRedis(string executable, int port)
    {
        // Protected mode accepts only loopback clients without a password; the hosts come from their
        // own links, and nothing outside the lab's namespaces reaches the router.
        var process = LabProcess.StartCommand(
            Router,
            [executable, "--bind", RouterAddress.ToString(), "--port", Text(port), "--save", "", "--appendonly", "no", "--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning"]);
        lock (_processes)
        {
            _processes.Add(process);
        }

        var started = Stopwatch.StartNew();
        while (Exec(Router, "ss", "-Htln", "sport", "=", $":{Text(port)}").Trim().Length == 0)
        {
            if (started.Elapsed > TimeSpan.FromSeconds(10))
            {
                throw new InvalidOperationException($"redis-server did not listen on {RouterAddress}:{port} in the router within 10 s.");
            }

            Thread.Sleep(20);
        }

        return process;
    }

    public void Dispose()
    {
        lock (s_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            s_open.Remove(this);
        }

        // A process still inside a namespace would keep it alive after ip netns delete.
        lock (_processes)
        {
            foreach (var process in _processes)
            {
                process.Dispose();
            }
        }

        foreach (var ns in Enumerable.Reverse(_namespaces))
        {
            Run("ip", ["netns", "delete", ns], check: false);
        }
    }

    private static void DisposeAll()
    {
        DemoNatLab[] open;
        lock (s_gate)
        {
            open = [.. s_open];
        }

        foreach (var lab in open)
        {
            lab.Dispose();
        }
    }

    private void Build(int hosts)
    {
        var router = Add("router");
        var server = Add("server");
        for (var k = 1; k <= hosts; k++)
        {
            Add("host");
        }

        foreach (var ns in _namespaces)
        {
            // Links created from here on carry IPv4 only: no IPv6 link-local address outside 198.18.0.0/15.
            Exec(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1");
        }

        Link(server, "198.19.0", "srv");
        for (var k = 1; k <= hosts; k++)
        {
            Link(_namespaces[k + 1], $"198.18.{k}", $"h{k}");
        }

        Exec(router, "ip", "addr", "add", $"{RouterAddress}/32", "dev", "lo");

        // The NAT first: loading a nat table registers conntrack (and its sysctls) in the router.
        Run("ip", ["netns", "exec", router, "nft", "-f", "-"], stdin: $$"""
            table ip tuplepool_demo_nat {
                chain postrouting {
                    type nat hook postrouting priority srcnat; policy accept;
                    oifname "srv" ip saddr 198.18.0.0/15 meta l4proto tcp masquerade to :{{NatPorts.First}}-{{NatPorts.Last}}
                }
            }
            """);
        Exec(router, "sysctl", "-qw", "net.ipv4.ip_forward=1");
        var hold = Text((int)HoldAfterClose.TotalSeconds);
        foreach (var state in new[] { "time_wait", "fin_wait", "close_wait", "last_ack", "syn_sent" })
        {
            Exec(router, "sysctl", "-qw", $"net.netfilter.nf_conntrack_tcp_timeout_{state}={hold}");
        }

        Exec(router, "sysctl", "-qw", $"net.netfilter.nf_conntrack_tcp_timeout_close={Text((int)HoldAfterReset.TotalSeconds)}");
    }

    private string Add(string role)
    {
        var name = $"{Prefix}-{role}-{Environment.ProcessId}-{_namespaces.Count}";
        Run("ip", ["netns", "add", name]);
        _namespaces.Add(name);
        Exec(name, "ip", "link", "set", "lo", "up");
        return name;
    }

    /// <summary>A /24 between the router (.1) and <paramref name="peer"/> (.2, default route via the router).</summary>
    private void Link(string peer, string prefix, string routerEnd)
    {
        Run("ip", ["link", "add", routerEnd, "netns", Router, "type", "veth", "peer", "name", "eth0", "netns", peer]);
        Exec(Router, "ip", "addr", "add", $"{prefix}.1/24", "dev", routerEnd);
        Exec(Router, "ip", "link", "set", routerEnd, "up");
        Exec(peer, "ip", "addr", "add", $"{prefix}.2/24", "dev", "eth0");
        Exec(peer, "ip", "link", "set", "eth0", "up");
        Exec(peer, "ip", "route", "add", "default", "via", $"{prefix}.1");
    }

    /// <summary>Labs of demo runs that were killed before they could remove them (their process is gone).</summary>
    private static void RemoveStale()
    {
        foreach (var line in Run("ip", ["netns", "list"]).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = line.Split(' ')[0];
            var fields = name.Split('-');
            if (fields.Length == 4 && fields[0] == Prefix && int.TryParse(fields[2], CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}"))
            {
                Run("ip", ["netns", "delete", name], check: false);
            }
        }
    }

    private static string Exec(string ns, string file, params string[] args) => Run("ip", ["netns", "exec", ns, file, .. args]);

    private static string Run(string file, string[] args, bool check = true, string? stdin = null)
    {
        var start = new ProcessStartInfo(Tool(file) ?? file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        if (!process.WaitForExit(30_000))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not finish in 30 s");
        }

        if (check && process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} failed ({process.ExitCode}): {error.Result.Trim()}{output.Result.Trim()}");
        }

        return output.Result;
    }

    internal static string? Tool(string name)
        => (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(':').Concat(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
            .Where(dir => dir.Length > 0)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    private static bool IsRoot()
    {
        try
        {
            return File.ReadLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
