using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace TuplePool.Samples.Readme;

/// <summary>The README's health-check example, as a web app on 127.0.0.1:<c>appPort</c>.</summary>
public static class HealthChecks
{
    public static WebApplication Build(int appPort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{appPort}");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.2",
            ["TuplePool:SourceAddresses:1"] = "127.0.0.3",
        });

        // <readme name="health-checks">
        builder.Services.AddTuplePool(builder.Configuration.GetSection("TuplePool"));
        builder.Services.AddTuplePool("replicas", o => o.SourceAddresses.Add(IPAddress.Parse("127.0.0.4")));
        builder.Services.AddHealthChecks()
            .AddTuplePool(tags: ["ready"])                                   // the default pool
            .AddTuplePool("replicas", o => o.RefusalWindow = TimeSpan.FromMinutes(1));

        var app = builder.Build();
        app.MapHealthChecks("/healthz");   // 200 "Healthy", or 200 "Degraded", or 503 "Unhealthy"
        // </readme>
        return app;
    }
}
