using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using TuplePool;
using TuplePool.TestServers;

namespace TuplePool.NetnsRunner;

/// <summary>
/// The source-prefix lab (tests/TuplePool.Tests/Sources/SourcePrefixNetnsTests.cs).
/// <c>prefix-server --port P</c>, in the server namespace: an echo server on [::]:P (IPv4 too),
/// writes <c>{"listening": ...}</c> and stays until its stdin ends.
/// <c>source-prefix --host4 A --host6 B --port P --prefix4 N4 --prefix6 N6 --connections C --range F-L</c>,
/// in the client namespace whose lo serves N4 and N6 (AnyIP routes): for each family a pool with
/// that prefix as its only source and the narrow LocalPortRange F-L holds C connections to the
/// server, reports the distinct sources it used, what <c>ss</c> shows, the ledgers held, then
/// closes them all gracefully (this side first: TIME_WAIT) and reports how long the ledgers took
/// to go.
/// </summary>
internal static class SourcePrefixScenario
{
    public static async Task<JsonObject> RunServerAsync(RunnerArgs args)
    {
        var port = args.GetInt("port");
        if (port is < 1 or > 32767)
        {
            throw new ArgumentException($"--port {port}: listening ports stay below the ephemeral range (1-32767).");
        }

        await using var server = new EchoServer(new IPEndPoint(IPAddress.IPv6Any, port));
        ControlChannel.Write(new JsonObject { ["listening"] = server.EndPoint.ToString() });
        while (await ControlChannel.ReadAsync() is not null)
        {
            // No commands: the server only waits for the end of its input.
        }

        return new JsonObject { ["stopped"] = true };
    }

    public static async Task<JsonObject> RunClientAsync(RunnerArgs args)
    {
        var port = args.GetInt("port");
        var connections = args.GetInt("connections");
        var range = PortRange.Parse(args.Get("range"));
        var result = new JsonObject
        {
            ["tcpTwReuse"] = File.ReadAllText("/proc/sys/net/ipv4/tcp_tw_reuse").Trim(),
        };
        foreach (var (family, host, prefix) in new[] { ("ipv4", args.Get("host4"), args.Get("prefix4")), ("ipv6", args.Get("host6"), args.Get("prefix6")) })
        {
            result[family] = await RunFamilyAsync(new IPEndPoint(IPAddress.Parse(host), port), IPNetwork.Parse(prefix), connections, range);
        }

        return result;
    }

    private static async Task<JsonObject> RunFamilyAsync(IPEndPoint server, IPNetwork prefix, int connections, PortRange range)
    {
        var options = new TuplePoolOptions
        {
            SourcePrefixes = [prefix],
            LocalPortRange = range,
            CloseMode = CloseMode.Graceful,
            AcquireTimeout = TimeSpan.FromSeconds(10),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };

        var failures = StartupValidation(options);
        if (failures.Count > 0)
        {
            // The public constructor runs the same checks and would throw them.
            return new JsonObject { ["validation"] = new JsonArray([.. failures.Select(f => JsonValue.Create(f))]) };
        }

        await using var pool = new SocketPool(options);
        var leases = new List<SocketLease>(connections);
        string? error = null;
        try
        {
            for (var i = 0; i < connections; i++)
            {
                leases.Add(await pool.AcquireAsync(server));
            }
        }
#pragma warning disable CA1031 // Reported to the test, which shows it.
        catch (Exception e)
#pragma warning restore CA1031
        {
            error = $"connection {leases.Count + 1}: {e.GetType().Name}: {e.Message}";
        }

        var held = pool.GetSnapshot();
        var ssSources = EstablishedSourcesTo(server.Port);
        var report = new JsonObject
        {
            ["validation"] = new JsonArray(),
            ["opened"] = leases.Count,
            ["error"] = error,
            ["distinctSources"] = leases.Select(l => l.LocalEndPoint.Address).Distinct().Count(),
            ["sourcesOutsidePrefix"] = leases.Count(l => !prefix.Contains(l.LocalEndPoint.Address)),
            ["ssEstablished"] = ssSources.Count,
            ["ssDistinctSources"] = ssSources.Distinct().Count(),
            ["ssSourcesOutsidePrefix"] = ssSources.Count(a => !prefix.Contains(a)),
            ["ledgers"] = held.Tuples.Count,
            ["ledgerSourcesOutsidePrefix"] = held.Tuples.Count(t => !prefix.Contains(t.Source)),
            ["maxActivePerLedger"] = held.Tuples.Count == 0 ? 0 : held.Tuples.Max(t => t.Active),
        };

        foreach (var lease in leases)
        {
            lease.Invalidate(); // closed, not kept idle: this side closes first, so TIME_WAIT
            lease.Dispose();
        }

        var family = server.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "-6" : "-4";
        // Read soon after the closes: the TIME_WAIT charge here is the kernel's 1 s reuse delay.
        await WaitUntilAsync(() => Ss($"-Htn {family} state time-wait dport = :{server.Port}").Count >= leases.Count, TimeSpan.FromMilliseconds(500));
        report["ssTimeWaitAfterClose"] = Ss($"-Htn {family} state time-wait dport = :{server.Port}").Count;
        report["ssStatesAfterClose"] = new JsonObject([.. Ss($"-Htan {family} dport = :{server.Port}")
            .GroupBy(line => line.Split(' ', 2)[0])
            .Select(g => new KeyValuePair<string, JsonNode?>(g.Key, g.Count()))]);
        report["ledgersAfterClose"] = pool.GetSnapshot().Tuples.Count;
        report["timeWaitChargedAfterClose"] = pool.GetSnapshot().TotalTimeWait;
        var clock = Stopwatch.StartNew();
        await WaitUntilAsync(() => pool.GetSnapshot().Tuples.Count == 0, TimeSpan.FromSeconds(90));
        report["ledgersAfterTimeWait"] = pool.GetSnapshot().Tuples.Count;
        report["secondsUntilLedgersGone"] = Math.Round(clock.Elapsed.TotalSeconds, 1);
        return report;
    }

    /// <summary>The start-up check a host runs (AddTuplePool's validation, with the bind and route probes): its failures, or none.</summary>
    private static List<string> StartupValidation(TuplePoolOptions configured)
    {
        var services = new ServiceCollection();
        services.AddTuplePool(o =>
        {
            o.SourcePrefixes = configured.SourcePrefixes;
            o.LocalPortRange = configured.LocalPortRange;
        });
        using var provider = services.BuildServiceProvider();
        try
        {
            _ = provider.GetRequiredService<IOptionsMonitor<TuplePoolOptions>>().CurrentValue;
            return [];
        }
        catch (OptionsValidationException e)
        {
            return [.. e.Failures];
        }
    }

    /// <summary>The local addresses of established connections to <paramref name="port"/>: <c>ss -Htn state established dport = :port</c>.</summary>
    private static List<IPAddress> EstablishedSourcesTo(int port)
    {
        var sources = new List<IPAddress>();
        foreach (var line in Ss($"-Htn state established dport = :{port}"))
        {
            // "0 0 198.18.64.17:40003 198.18.65.2:21500" or "0 0 [2001:2:0:1::11]:40003 ..."
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 4 && IPEndPoint.TryParse(fields[2], out var local))
            {
                sources.Add(local.Address.IsIPv4MappedToIPv6 ? local.Address.MapToIPv4() : local.Address);
            }
        }

        return sources;
    }

    private static List<string> Ss(string arguments)
    {
        using var ss = Process.Start(new ProcessStartInfo("ss", arguments) { RedirectStandardOutput = true, UseShellExecute = false })
            ?? throw new InvalidOperationException("ss did not start");
        var lines = new List<string>();
        while (ss.StandardOutput.ReadLine() is { } line)
        {
            if (line.Length > 0)
            {
                lines.Add(line);
            }
        }

        ss.WaitForExit();
        return lines;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < limit)
        {
            await Task.Delay(50);
        }
    }
}
