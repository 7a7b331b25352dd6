using System.ComponentModel;
using System.Globalization;
using System.Text;
using TuplePool.Benchmarks.Gateway;

// YARP without and with UseTuplePool under wrk: the same backends, one process, runs alternating.
if (!GatewayOptions.TryParse(args, out var options, out var error))
{
    Console.Error.WriteLine($"error: {error}");
    Console.Error.WriteLine("Run with --help to see the options.");
    return 2;
}

if (options.Help)
{
    Console.WriteLine(GatewayOptions.Usage);
    return 0;
}

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};

Side[] sides =
[
    new("plain", "YARP", options.PlainProxyPort),
    new("pool", $"YARP + UseTuplePool ({options.Sources} sources)", options.PoolProxyPort),
];
Mode[] modes = options.Modes.Select(Mode.Named).ToArray();
var runs = new Dictionary<(string Mode, string Side), List<WrkRun>>();

Console.WriteLine(Invariant($"gateway: {options.Backends} Kestrel backends on 127.0.0.1:{options.PortBase + 1}-{options.PortBase + options.Backends}, ")
    + Invariant($"plain YARP on :{options.PlainProxyPort}, YARP + UseTuplePool on :{options.PoolProxyPort}; ")
    + Invariant($"wrk -t{options.Threads} -c{options.Connections} -d{options.Duration.TotalSeconds:0}s --latency, {options.Rounds} rounds; load average {LoadAverage()}"));
try
{
    await using var servers = await GatewayServers.StartAsync(options, stop.Token);

    // Untimed first: JIT, the connection pools of both proxies, Kestrel's buffers.
    var warmUp = TimeSpan.FromSeconds(Math.Min(2, options.Duration.TotalSeconds));
    foreach (var mode in modes)
    {
        foreach (var side in sides)
        {
            await WrkRun.RunAsync(options, side.Url(mode), mode.CloseEachRequest, warmUp, stop.Token);
        }
    }

    if (servers.DescribePool() is not { } pooled)
    {
        Console.Error.WriteLine("error: after the warm-up the pool proxy's cluster pool holds no connection: it does not connect through TuplePool");
        return 1;
    }

    Console.WriteLine($"pool proxy after the warm-up: {pooled}");
    for (var round = 0; round < options.Rounds; round++)
    {
        foreach (var mode in modes)
        {
            // The order turns every round, so a drift of the machine weighs on both sides alike.
            foreach (var side in round % 2 == 0 ? sides : sides.Reverse())
            {
                var run = await WrkRun.RunAsync(options, side.Url(mode), mode.CloseEachRequest, options.Duration, stop.Token);
                if (!runs.TryGetValue((mode.Name, side.Name), out var list))
                {
                    runs[(mode.Name, side.Name)] = list = [];
                }

                list.Add(run);
                Console.WriteLine(Invariant($"round {round + 1} {mode.Name,-13} {side.Name,-5} {run.RequestsPerSecond,10:N0} req/s  p50 {Micros(run.P50Micros)}  p99 {Micros(run.P99Micros)}  errors {run.SocketErrors + run.Non2xx}"));
            }
        }
    }

    Console.WriteLine($"pool proxy at the end: {servers.DescribePool()}");
}
catch (Win32Exception e)
{
    Console.Error.WriteLine($"error: cannot run '{options.Wrk}' ({e.Message}); install it (Debian: apt-get install wrk) or name it with --wrk");
    return 1;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    Console.Error.WriteLine("Stopped.");
    return 130;
}
catch (InvalidOperationException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}

Console.WriteLine();
Console.Write(Report(runs, modes, sides));
Console.WriteLine($"load average after: {LoadAverage()}");
return 0;

static string Report(Dictionary<(string Mode, string Side), List<WrkRun>> runs, Mode[] modes, Side[] sides)
{
    var text = new StringBuilder();
    text.AppendLine("| mode | proxy | requests/s (median; each run) | p50 latency | p99 latency | errors |");
    text.AppendLine("|---|---|---:|---:|---:|---:|");
    foreach (var mode in modes)
    {
        foreach (var side in sides)
        {
            var list = runs[(mode.Name, side.Name)];
            text.AppendLine(
                Invariant($"| {mode.Name} | {side.Title} | {Median(list.Select(r => r.RequestsPerSecond)):N0} ({string.Join(", ", list.Select(r => r.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture)))}) ")
                + Invariant($"| {Micros(Median(list.Select(r => r.P50Micros)))} | {Micros(Median(list.Select(r => r.P99Micros)))} | {list.Sum(r => r.SocketErrors + r.Non2xx):N0} |"));
        }
    }

    text.AppendLine();
    text.AppendLine("| mode | pool / plain requests/s (median of the rounds' ratios; each round) | p50 pool / plain | p99 pool / plain |");
    text.AppendLine("|---|---:|---:|---:|");
    foreach (var mode in modes)
    {
        var plain = runs[(mode.Name, "plain")];
        var pool = runs[(mode.Name, "pool")];
        var ratios = plain.Zip(pool, (a, b) => b.RequestsPerSecond / a.RequestsPerSecond).ToList();
        text.AppendLine(
            Invariant($"| {mode.Name} | {Median(ratios):F3}x ({string.Join(", ", ratios.Select(r => r.ToString("F3", CultureInfo.InvariantCulture)))}) ")
            + Invariant($"| {Median(plain.Zip(pool, (a, b) => b.P50Micros / a.P50Micros)):F3}x | {Median(plain.Zip(pool, (a, b) => b.P99Micros / a.P99Micros)):F3}x |"));
    }

    return text.ToString();
}

static double Median(IEnumerable<double> values)
{
    var sorted = values.Order().ToArray();
    return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
}

static string Micros(double micros) =>
    micros >= 10_000 ? Invariant($"{micros / 1000:N1} ms") : Invariant($"{micros:N0} µs");

static string LoadAverage()
{
    try
    {
        return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
    }
    catch (IOException)
    {
        return "unknown";
    }
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>One proxy under test.</summary>
internal sealed record Side(string Name, string Title, int Port)
{
    public string Url(Mode mode) => $"http://127.0.0.1:{Port}{mode.Path}";
}

/// <summary>How wrk loads the proxy: which path (the backends' keep-alive or close answer) and whether each request closes its client connection.</summary>
internal sealed record Mode(string Name, string Path, bool CloseEachRequest)
{
    public static Mode Named(string name) => name switch
    {
        "keepalive" => new(name, GatewayServers.KeepAlivePath, false),
        "churn" => new(name, GatewayServers.KeepAlivePath, true),
        "backend-churn" => new(name, GatewayServers.ClosePath, false),
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "not a mode"),
    };
}
