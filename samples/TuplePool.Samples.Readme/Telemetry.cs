using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace TuplePool.Samples.Readme;

/// <summary>
/// The README's telemetry example: a web app on 127.0.0.1:<c>appPort</c> whose pool's meter and
/// spans go to OpenTelemetry, with a Prometheus scrape endpoint at <c>/metrics</c>, and a
/// <c>/lease</c> route that leases a connection to 127.0.0.1:<c>backendPort</c>, holds it
/// <c>holdMs</c> milliseconds and, with <c>invalidate=true</c>, closes it instead of returning it.
/// </summary>
public static class Telemetry
{
    /// <summary>The pool's name: its <c>tuplepool.pool.name</c>.</summary>
    public const string PoolName = "telemetry-sample";

    public static WebApplication Build(int appPort, int backendPort, string localPortRange)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{appPort}");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.2",
            ["TuplePool:LocalPortRange"] = localPortRange,
        });

        // A pool of its own name, so the tests can tell its series from other pools' in one process.
        builder.Services.AddTuplePool(PoolName, builder.Configuration.GetSection("TuplePool"));

        // <readme name="telemetry">
        builder.Services.AddOpenTelemetry()
            .WithMetrics(metrics => metrics.AddMeter("TuplePool").AddPrometheusExporter())
            .WithTracing(tracing => tracing.AddSource("TuplePool")); // and your exporter, e.g. .AddOtlpExporter()

        var app = builder.Build();
        app.MapPrometheusScrapingEndpoint(); // GET /metrics
        // </readme>

        var backend = new IPEndPoint(IPAddress.Loopback, backendPort);
        app.MapGet("/lease", async ([FromKeyedServices(PoolName)] ISocketPool pool, int? holdMs, bool? invalidate, CancellationToken ct) =>
        {
            using var lease = await pool.AcquireAsync(backend, ct);
            if (invalidate == true)
            {
                lease.Invalidate(); // closed on return: the next lease connects anew
            }

            await Task.Delay(holdMs ?? 0, ct);
            return lease.LocalEndPoint.ToString();
        });
        return app;
    }
}
