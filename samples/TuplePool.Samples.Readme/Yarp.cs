using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Yarp;

namespace TuplePool.Samples.Readme;

/// <summary>The README's YARP gateway, as a web app on 127.0.0.1:<c>appPort</c> with the README's configuration (backends on 127.0.0.1).</summary>
public static class YarpGateway
{
    public static WebApplication Build(int appPort, int apiPort1, int apiPort2, int legacyPort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{appPort}");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.2",
            ["TuplePool:SourceAddresses:1"] = "127.0.0.3",
            ["TuplePool:LocalPortRange"] = "40000-44999",
            ["ReverseProxy:Routes:api:ClusterId"] = "api",
            ["ReverseProxy:Routes:api:Match:Path"] = "/api/{**rest}",
            ["ReverseProxy:Routes:api:Transforms:0:PathRemovePrefix"] = "/api",
            ["ReverseProxy:Routes:legacy:ClusterId"] = "legacy",
            ["ReverseProxy:Routes:legacy:Match:Path"] = "/legacy/{**rest}",
            ["ReverseProxy:Routes:legacy:Transforms:0:PathRemovePrefix"] = "/legacy",
            ["ReverseProxy:Routes:legacy:Metadata:TuplePool.Respond503"] = "false",
            ["ReverseProxy:Clusters:api:Destinations:a:Address"] = $"http://127.0.0.1:{apiPort1}/",
            ["ReverseProxy:Clusters:api:Destinations:b:Address"] = $"http://127.0.0.1:{apiPort2}/",
            ["ReverseProxy:Clusters:legacy:Metadata:TuplePool.Pool"] = "replicas",
            ["ReverseProxy:Clusters:legacy:Destinations:old:Address"] = $"http://127.0.0.1:{legacyPort}/",
        });

        // <readme name="yarp">
        builder.Services.AddTuplePool(builder.Configuration.GetSection("TuplePool"));   // options of each cluster's own pool
        builder.Services.AddTuplePool("replicas", o => o.SourceAddresses.Add(IPAddress.Parse("127.0.0.4")));
        builder.Services.AddReverseProxy()
            .LoadFromConfig(builder.Configuration.GetSection("ReverseProxy"))
            .UseTuplePool(o => o.RetryAfter = TimeSpan.FromSeconds(5));   // Retry-After of a 503 for an exhausted budget

        var app = builder.Build();
        app.MapReverseProxy();
        app.MapGet("/pools/{cluster}", (string cluster, IClusterSocketPools pools) =>
            pools.TryGetPool(cluster, out var pool) ? Results.Ok(pool.GetSnapshot()) : Results.NotFound());
        // </readme>
        return app;
    }
}
