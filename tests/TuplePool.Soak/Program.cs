using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using TuplePool;
using TuplePool.Soak;

// Soak: every kind of traffic the pool sees, at full speed, on loopback only, for a bounded time.
//   dotnet TuplePool.Soak.dll --minutes N | --seconds N
// Exit 0 when there were no untyped errors and, after traffic stops and a settle period, the
// pools' ledgers agree with the kernel (`ss`) on their own port slices; 1 otherwise; 2 bad usage.
var duration = TimeSpan.Zero;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    var value = double.Parse(args[i + 1], CultureInfo.InvariantCulture);
    duration += args[i] switch
    {
        "--minutes" => TimeSpan.FromMinutes(value),
        "--seconds" => TimeSpan.FromSeconds(value),
        _ => TimeSpan.Zero,
    };
}

if (duration <= TimeSpan.Zero || duration > TimeSpan.FromHours(2))
{
    Console.Error.WriteLine("usage: TuplePool.Soak --minutes N | --seconds N   (up to 2 hours)");
    return 2;
}

// Listeners below 32768 (outside the ephemeral range), one port block of the soak's own.
var echoPorts = new[] { 31001, 31002, 31003 };
const int HttpPort = 31010;
var servers = echoPorts.Select(p => new EchoServer(new IPEndPoint(IPAddress.Loopback, p))).ToList();
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, HttpPort));
var app = builder.Build();
app.MapGet("/", (HttpContext c) => c.Connection.RemoteIpAddress!.ToString());
await app.StartAsync();

// Three pools, each with its own sources (unused by the test suite) and client port slice, so
// `ss` filtered to them counts only the soak's sockets.
var lanes = new[]
{
    Lane.Create("reuse+churn (graceful)", CloseMode.Graceful, new PortRange(50000, 50999), "127.0.0.20", "127.0.0.21"),
    Lane.Create("abortive", CloseMode.Abortive, new PortRange(51000, 51999), "127.0.0.22"),
    Lane.Create("http", CloseMode.Graceful, new PortRange(52000, 52999), "127.0.0.23"),
};
var http = new HttpClient(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromSeconds(2) }.UseTuplePool(lanes[2].Pool))
{
    BaseAddress = new Uri($"http://127.0.0.1:{HttpPort}/"),
    Timeout = TimeSpan.FromSeconds(10),
};

var tally = new Tally();
var watch = Stopwatch.StartNew();
Console.WriteLine($"soak: {duration.TotalSeconds:0} s, {Environment.ProcessorCount} cores, tcp_tw_reuse={File.ReadAllText("/proc/sys/net/ipv4/tcp_tw_reuse").Trim()}");
var start = Sample.Take(lanes, tally, watch);
Console.WriteLine("start " + start);

using var stop = new CancellationTokenSource(duration);
var workers = Enumerable.Range(0, 16).Select(seed => Task.Run(() => Work.LoopAsync(seed, lanes, echoPorts, http, tally, stop.Token))).ToList();
var nextReport = TimeSpan.FromSeconds(60);
while (!stop.IsCancellationRequested)
{
    try
    {
        await Task.Delay(TimeSpan.FromSeconds(1), stop.Token);
    }
    catch (OperationCanceledException)
    {
        break;
    }

    if (watch.Elapsed >= nextReport)
    {
        Console.WriteLine("live  " + Sample.Take(lanes, tally, watch));
        nextReport += TimeSpan.FromSeconds(60);
    }
}

await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(1));
var trafficEnded = watch.Elapsed;

// Settle: HttpClient hands its connections back, the reaper closes what is idle (IdleTimeout
// 2 s), tcp_tw_reuse's 1 s charge of those closes ends, the kernel finishes them. Then the
// ledgers must agree with `ss` exactly. A kernel timer is what we wait for, so a fixed 5 s.
http.Dispose();
await Task.Delay(TimeSpan.FromSeconds(5));
var end = Sample.Take(lanes, tally, watch, settled: true);
Console.WriteLine("end   " + end);
Console.WriteLine($"traffic {trafficEnded.TotalSeconds:0} s: {tally.Requests} requests, {tally.Typed} typed refusals, {tally.Cancelled} cancellations, {tally.Untyped} untyped errors");
foreach (var e in tally.FirstUntyped)
{
    Console.WriteLine("untyped: " + e);
}

foreach (var lane in lanes)
{
    await lane.Pool.DisposeAsync();
}

await app.StopAsync();
foreach (var server in servers)
{
    await server.DisposeAsync();
}

var ok = tally.Untyped == 0 && end.Drift == 0;
Console.WriteLine(ok ? "soak: PASS" : $"soak: FAIL (untyped {tally.Untyped}, drift {end.Drift})");
return ok ? 0 : 1;
