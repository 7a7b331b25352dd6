using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Nat;

/// <summary>
/// The NAT lab (Support/NatLab.cs) is a real NAT: two client namespaces behind an nftables
/// masquerade of 10 ports, plain sockets, no pool. Between them only 10 connections get through;
/// the rest time out (the NAT drops the SYN) although each client has its whole local port range
/// free. The NAT keeps a closed connection's mapping for its hold (conntrack's TIME_WAIT, lowered
/// to seconds in the router, read from its table: on this kernel a new SYN may take such a
/// mapping over, see NatLab), and once the hold is over the ports serve a second round. Also: the lab keeps to 198.18.0.0/15, changes sysctls in
/// its own namespaces only, and leaves nothing behind. The server listens below 32768 in a
/// namespace of its own, so no other test can meet its port.
/// </summary>
public sealed class NatLabTests
{
    private const int Port = 21100;
    private static readonly PortRange NatPorts = new(40000, 40009);
    private static readonly TimeSpan HoldAfterClose = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan HoldAfterReset = TimeSpan.FromSeconds(1);

    // Two SYNs (the kernel's first retry comes after 1 s), then the client gives up.
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(15);

    private static NatLab CreateLab(int clients, bool readsConntrack = false)
    {
        Assert.SkipWhen(NatLab.SkipReason() is not null, NatLab.SkipReason() ?? "");
        Assert.SkipWhen(readsConntrack && NatLab.ConntrackSkipReason() is not null, NatLab.ConntrackSkipReason() ?? "");
        return NatLab.Create(clients, NatPorts, HoldAfterClose, HoldAfterReset);
    }

    [Fact]
    public async Task TwoClientsBehindTenNatPorts_SixConnectsEach_TenConnectAndTwoTimeOut_ClosedPortsComeBackAfterTheHold()
    {
        using var lab = CreateLab(clients: 2, readsConntrack: true);
        await lab.StartServerAsync(Port);
        var clients = await Task.WhenAll(lab.StartClientAsync(0, Port, ConnectTimeout), lab.StartClientAsync(1, Port, ConnectTimeout));
        var (a, b) = (clients[0], clients[1]);

        AssertOpened(await a.SendAsync("open 6", Answer), connected: 6, timedOut: 0);
        AssertOpened(await b.SendAsync("open 6", Answer), connected: 4, timedOut: 2);

        // The ports ran out at the NAT, not in the clients: each has its whole local range and holds six at most.
        Assert.All(lab.Clients, c => Assert.True(LocalRangeSize(c) >= 1000, $"{c.Name}: ip_local_port_range {c.ReadSysctl("net.ipv4.ip_local_port_range")}"));

        // The server sees ten connections, every one from the NAT's address and one of its ten ports.
        var peers = lab.ServerPeers(Port);
        Assert.All(peers, p => Assert.Equal(NatLab.NatAddress, p.Address));
        Assert.Equal(Enumerable.Range(NatPorts.First, NatPorts.Count), peers.Select(p => p.Port).Order());
        Assert.Equal(6, Int(await a.SendAsync("echo", Answer), "echoed"));
        Assert.Equal(4, Int(await b.SendAsync("echo", Answer), "echoed"));

        // A closes its six: the NAT keeps their mappings for its hold (conntrack TIME_WAIT in the
        // router) beside B's four live ones ...
        Assert.Equal(6, Int(await a.SendAsync("close 6", Answer), "closed"));
        Assert.True(
            await PollAsync(() => lab.NatMappings(Port) is var m && m.GetValueOrDefault("TIME_WAIT") == 6 && m.GetValueOrDefault("ESTABLISHED") == 4, TimeSpan.FromSeconds(5)),
            $"expected 6 TIME_WAIT and 4 ESTABLISHED mappings: {Describe(lab.NatMappings(Port))}");

        // ... until the lowered hold is over: then they are gone, and a second round of six connects.
        Assert.True(
            await PollAsync(() => lab.NatMappings(Port).GetValueOrDefault("TIME_WAIT") == 0, HoldAfterClose + TimeSpan.FromSeconds(5)),
            $"TIME_WAIT mappings outlived the {HoldAfterClose.TotalSeconds} s hold: {Describe(lab.NatMappings(Port))}");
        AssertOpened(await a.SendAsync("open 6", Answer), connected: 6, timedOut: 0);
        Assert.Equal(10, lab.ServerPeers(Port).Count);
    }

    [Fact]
    public void Create_EveryAddressFromTheBenchmarkRange_SysctlsChangedInTheRouterOnly()
    {
        var hostBefore = HostSysctls();
        using (var lab = CreateLab(clients: 2))
        {
            var addresses = lab.AssignedAddresses();
            Assert.All(addresses, a => Assert.True(
                a.Device == "lo" ? IPAddress.IsLoopback(a.Address) : a.Address.AddressFamily == AddressFamily.InterNetwork && NatLab.LabNetwork.Contains(a.Address),
                $"{a.Namespace} {a.Device} {a.Address}"));
            Assert.Equal(
                ["198.18.1.1", "198.18.1.2", "198.18.2.1", "198.18.2.2", "198.19.0.1", "198.19.0.2"],
                addresses.Where(a => a.Device != "lo").Select(a => a.Address.ToString()).Order());

            Assert.Equal("1", lab.Router.ReadSysctl("net.ipv4.ip_forward"));
            Assert.Equal("3", lab.Router.ReadSysctl(NatLab.TimeWaitTimeout));
            Assert.Equal("1", lab.Router.ReadSysctl(NatLab.CloseTimeout));
            Assert.All(NatLab.ConntrackTimeouts.Except([NatLab.CloseTimeout]), key => Assert.Equal("3", lab.Router.ReadSysctl(key)));

            // The host's own values, while the lab runs: neither forwarding nor conntrack's timeouts moved.
            AssertUnchanged(hostBefore);
            Assert.All(NatLab.ConntrackTimeouts, key => Assert.NotEqual(lab.Router.ReadSysctl(key), HostSysctl(key)));
        }

        AssertUnchanged(hostBefore);
    }

    [Fact]
    public async Task Dispose_RemovesEveryNamespace_AndStopsTheScenariosInside()
    {
        var lab = CreateLab(clients: 2);
        IReadOnlyList<string> names;
        int serverProcess;
        try
        {
            names = lab.NamespaceNames;
            serverProcess = (await lab.StartServerAsync(Port + 1)).ProcessId;
            Assert.Equal(4, names.Count);
            Assert.All(names, name => Assert.True(Netns.Exists(name), name));
        }
        finally
        {
            lab.Dispose();
        }

        Assert.All(names, name => Assert.False(Netns.Exists(name), $"{name} is still there"));
        Assert.False(Directory.Exists($"/proc/{serverProcess}"), $"the server (pid {serverProcess}) still runs");
    }

    private static void AssertOpened(JsonObject reply, int connected, int timedOut)
    {
        var text = reply.ToJsonString();
        Assert.True(Int(reply, "connected") == connected && Int(reply, "timedOut") == timedOut, $"expected {connected} connected and {timedOut} timed out: {text}");
        Assert.Equal(0, Int(reply, "refused"));
        Assert.True(reply["otherErrors"]!.AsArray().Count == 0, text);
    }

    /// <summary>Re-reads the router's table (a process each time, so four times a second) until <paramref name="condition"/> holds.</summary>
    private static async Task<bool> PollAsync(Func<bool> condition, TimeSpan limit)
    {
        var started = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(started) > limit)
            {
                return false;
            }

            await Task.Delay(250, TestContext.Current.CancellationToken);
        }

        return true;
    }

    private static string Describe(IReadOnlyDictionary<string, int> mappings)
        => mappings.Count == 0 ? "none" : string.Join(", ", mappings.Select(m => $"{m.Value} {m.Key}"));

    private static int Int(JsonObject reply, string name) => (int)reply[name]!;

    private static int LocalRangeSize(Netns ns)
    {
        var bounds = ns.ReadSysctl("net.ipv4.ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
        return int.Parse(bounds[1], CultureInfo.InvariantCulture) - int.Parse(bounds[0], CultureInfo.InvariantCulture) + 1;
    }

    // Compared key by key: where nf_conntrack is a module, its sysctls appear only once the router's nat table loaded it.
    private static void AssertUnchanged(Dictionary<string, string> before)
        => Assert.All(before, kv => Assert.True(HostSysctl(kv.Key) == kv.Value, $"host {kv.Key}: {kv.Value} before, {HostSysctl(kv.Key)} now"));

    /// <summary>The sysctls the lab sets, as this (the host's) namespace has them; a key the kernel does not show yet is left out.</summary>
    private static Dictionary<string, string> HostSysctls()
        => new[] { "net.ipv4.ip_forward", "net.ipv6.conf.default.disable_ipv6" }.Concat(NatLab.ConntrackTimeouts)
            .Select(key => (key, value: HostSysctl(key)))
            .Where(kv => kv.value is not null)
            .ToDictionary(kv => kv.key, kv => kv.value!);

    private static string? HostSysctl(string key)
    {
        var path = Path.Combine("/proc/sys", key.Replace('.', '/'));
        return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
    }
}
