using System.Net;
using TuplePool;

var builder = WebApplication.CreateBuilder(args);

// The pool, from the "TuplePool" section of appsettings.json: four loopback source addresses
// (Linux routes all of 127.0.0.0/8 to lo) and a 100-port slice, so 4 x 100 connections to
// one backend. Bad values stop the app at start-up with the setting named.
builder.Services.AddTuplePool(builder.Configuration);

// HttpClient connections to the backend are opened through the pool: spread over the sources,
// kept within each tuple's budget, shared across IHttpClientFactory's handler rotation.
var backend = new Uri(builder.Configuration["Backend:BaseAddress"] ?? "http://127.0.0.1:5081");
var front = new Uri(builder.Configuration["Kestrel:Endpoints:Front:Url"] ?? "http://127.0.0.1:5080");
builder.Services.AddHttpClient("backend", client => client.BaseAddress = backend).UseTuplePool();

var app = builder.Build();

// The backend, hosted by this same process on its own port (Kestrel:Endpoints:Backend).
// It answers with the address and port the request came from, after `holdMs` if given.
app.MapGet("/whoami", async (HttpContext context, int? holdMs, CancellationToken cancellationToken) =>
{
    if (holdMs > 0)
    {
        await Task.Delay(Math.Min(holdMs.Value, 60_000), cancellationToken);
    }

    return $"{context.Connection.RemoteIpAddress}:{context.Connection.RemotePort}";
}).RequireHost($"*:{backend.Port}");

// Calls the backend `count` times at once, each held `holdMs` by the backend. Each call in flight
// needs its own connection, so a large count shows the spread over sources and, with more than
// 400 calls held longer than AcquireTimeout, budget exhaustion.
app.MapGet("/call", async (IHttpClientFactory factory, int? count, int? holdMs, CancellationToken cancellationToken) =>
{
    var client = factory.CreateClient("backend");
    var calls = Enumerable.Range(0, Math.Clamp(count ?? 10, 1, 5000)).Select(async _ =>
    {
        try
        {
            return await client.GetStringAsync($"/whoami?holdMs={holdMs ?? 0}", cancellationToken);
        }
        catch (HttpRequestException e) when (e.InnerException is TupleBudgetExhaustedException)
        {
            return "exhausted";
        }
    });
    var results = await Task.WhenAll(calls);
    return new
    {
        calls = results.Length,
        exhausted = results.Count(r => r == "exhausted"),
        bySource = results.Where(r => r != "exhausted")
            .GroupBy(r => IPEndPoint.Parse(r).Address.ToString())
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Count()),
    };
}).RequireHost($"*:{front.Port}");

// What the pool holds right now, per (source, destination) tuple.
app.MapGet("/pool", (ISocketPool pool) => pool.GetSnapshot().Tuples.Select(t => new
{
    source = t.Source.ToString(),
    destination = t.Destination.ToString(),
    t.Capacity,
    t.Active,
    t.Idle,
    t.TimeWait,
    t.Remaining,
})).RequireHost($"*:{front.Port}");

app.Run();
