using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using TuplePool.Demo.Nat;

namespace TuplePool.Demo.Scenarios;

/// <summary>
/// Behind a NAT: hosts in network namespaces behind a router that masquerades to 10 ports
/// (<see cref="DemoNatLab"/>). When the NAT has no port free it drops the SYN, so a plain connect
/// hangs until it times out; a pool with <see cref="TuplePoolOptions.Nat"/> set to the NAT's
/// figures waits for a port instead (typed, served once a close's port comes back after the
/// NAT's hold). With redis-server installed, three hosts share the NAT through
/// <c>RedisFleetBudget</c>: together they never open past its ports. Needs root (namespaces);
/// skipped with the reason otherwise. Every namespace and process is removed afterwards.
/// </summary>
internal static class NatScenario
{
    public const string Name = "nat";
    private const string Title = "Behind a NAT";
    private const int Connects = 14;
    private const int FleetRequests = 6;
    private const int PlainPort = 21200;
    private const int PoolPort = 21201;
    private const int FleetPort = 21202;
    private const int RedisPort = 21203;
    private static readonly PortRange NatPorts = new(40000, 40009);
    private static readonly TimeSpan Hold = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Answer = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(DemoContext context, CancellationToken cancellationToken)
    {
        if (DemoNatLab.SkipReason() is { } reason)
        {
            throw new ScenarioSkippedException(reason);
        }

        var redisServer = DemoNatLab.RedisServer();
        var clock = Stopwatch.StartNew();
        using var lab = DemoNatLab.Create(hosts: redisServer is null ? 1 : 3, NatPorts, Hold);
        using var stopOnCancel = cancellationToken.Register(lab.Dispose); // Ctrl+C: the lab goes at once, its children with it
        var host = lab.Hosts[0];
        var server = lab.Start(lab.Server, "server", Text(PlainPort), Text(PoolPort), Text(FleetPort));
        await server.ReadAsync(Answer, cancellationToken);
        Progress.Line(Name, $"lab up in {Format.Seconds(clock.Elapsed)}: {lab.Hosts.Count} host namespace(s) behind a router masquerading to {NatPorts} ({NatPorts.Count} ports), hold after a close {Hold.TotalSeconds:F0} s, server {DemoNatLab.ServerAddress}");

        // Plain sockets: the NAT runs out at 10; the other SYNs are dropped and the connects time out.
        var plain = lab.Start(host, "plain", DemoNatLab.ServerAddress.ToString(), Text(PlainPort), Text(Connects), Text((int)ConnectTimeout.TotalMilliseconds));
        var plainResult = await plain.ReadAsync(Answer, cancellationToken);
        plain.Dispose();
        var timedOut = Int(plainResult, "timedOut");
        Progress.Line(Name, $"plain: {Connects} connects at once: {Int(plainResult, "connected")} connected, {timedOut} timed out after {ConnectTimeout.TotalSeconds:F0} s (SYN dropped at the NAT), {Int(plainResult, "other")} other errors");

        // The pool with Nat set to the NAT's figures: 10 connect, 4 wait (typed); 4 closes serve them after the hold.
        var pool = lab.Start(host, "pool", DemoNatLab.ServerAddress.ToString(), Text(PoolPort), Text(Connects), Text(NatPorts.Count), Text((int)Hold.TotalMilliseconds), Text(Connects - NatPorts.Count));
        var poolResult = await pool.ReadAsync(Answer, cancellationToken);
        var served = Int(poolResult, "servedAfterClose");
        var waited = (double)poolResult["waitedSeconds"]!;
        Progress.Line(Name, $"pool:  {Connects} acquires at once: {Int(poolResult, "connected")} connected, {Connects - Int(poolResult, "connected")} waited for the NAT; "
            + $"{Connects - NatPorts.Count} closes served {served} of them within {waited:F1} s (the NAT's hold); {Int(poolResult, "synTimeout")} SYN timeouts, {Int(poolResult, "budgetExhausted")} waits ran out");

        var table = context.Table;
        table.Add(Title, $"{Connects} connects through a {NatPorts.Count}-port NAT", $"{Int(plainResult, "connected")} connected", $"{Int(poolResult, "connected")} connected", string.Empty);
        table.Add(Title, "  the other 4", $"{timedOut} SYN timeouts ({ConnectTimeout.TotalSeconds:F0} s each)", $"{served} waited, served {waited:F1} s after 4 closes", $"{Int(poolResult, "synTimeout")} SYN timeouts");

        if (redisServer is null)
        {
            table.AddNote("Behind a NAT: the fleet of three hosts sharing the NAT through Redis needs redis-server (Debian package redis-server); not run.");
            return;
        }

        // Three hosts, one NAT, one Redis: each pool's NAT budget comes from RedisFleetBudget.
        lab.StartRedis(redisServer, RedisPort);
        var fleetName = "demo-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var redis = $"{DemoNatLab.RouterAddress}:{Text(RedisPort)}";
        var members = lab.Hosts.Select((ns, k) => lab.Start(
            ns, "fleet", DemoNatLab.ServerAddress.ToString(), Text(FleetPort), Text(FleetRequests), Text(NatPorts.Count), Text((int)Hold.TotalMilliseconds), redis, fleetName, $"host{k + 1}")).ToList();
        await Task.WhenAll(members.Select(m => m.ReadAsync(Answer, cancellationToken)));
        Progress.Line(Name, $"fleet: {members.Count} hosts, each a pool on RedisFleetBudget (redis-server in the router, {redis}); {FleetRequests} requests each at once, a new connection per request");
        var fleetClock = Stopwatch.StartNew();
        await Task.WhenAll(members.Select(m => m.SendAsync("go")));
        var results = await Task.WhenAll(members.Select(m => m.ReadAsync(Answer, cancellationToken)));
        var fleetSeconds = fleetClock.Elapsed.TotalSeconds;
        await server.SendAsync("stats");
        var most = Int(await server.ReadAsync(Answer, cancellationToken), Text(FleetPort));
        var fleetServed = results.Sum(r => Int(r, "served"));
        var fleetTimeouts = results.Sum(r => Int(r, "synTimeout"));
        var fleetRefused = results.Sum(r => Int(r, "budgetExhausted"));
        Progress.Line(Name, $"fleet: {fleetServed} of {members.Count * FleetRequests} requests served in {fleetSeconds:F1} s ({string.Join(", ", results.Select(r => Int(r, "served")))} per host), "
            + $"at most {most} connections open at the server at once (the NAT has {NatPorts.Count}), {fleetTimeouts} SYN timeouts, {fleetRefused} waits ran out");
        table.Add(
            Title,
            $"fleet: 3 hosts x {FleetRequests} requests, one {NatPorts.Count}-port NAT",
            "-",
            $"{fleetServed} of {members.Count * FleetRequests} served in {fleetSeconds:F1} s, at most {most} open",
            $"{fleetTimeouts} SYN timeouts");
    }

    private static int Int(JsonObject reply, string name) => reply[name] is { } value ? (int)value : 0;

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
