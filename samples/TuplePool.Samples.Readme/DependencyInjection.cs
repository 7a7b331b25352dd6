using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using TuplePool;

namespace TuplePool.Samples.Readme;

/// <summary>The README's DI example, as a web app on 127.0.0.1:<c>appPort</c> calling a backend on <c>backendPort</c>.</summary>
public static class DependencyInjection
{
    public static WebApplication Build(int appPort, int backendPort)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{appPort}");

        // The same settings as the appsettings.json text shown in the README.
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["TuplePool:SourceAddresses:0"] = "127.0.0.2",
            ["TuplePool:SourceAddresses:1"] = "127.0.0.3",
            ["TuplePool:LocalPortRange"] = "40000-44999",
            ["TuplePool:AcquireTimeout"] = "00:00:05",
            ["Backend:Port"] = backendPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });

        // <readme name="dependency-injection">
        // appsettings.json
        // "TuplePool": {
        //   "SourceAddresses": [ "127.0.0.2", "127.0.0.3" ],
        //   "LocalPortRange": "40000-44999",
        //   "AcquireTimeout": "00:00:05"
        // }
        builder.Services.AddTuplePool(builder.Configuration.GetSection("TuplePool"));
        builder.Services.AddTuplePool("replicas", o => o.SourceAddresses.Add(IPAddress.Parse("127.0.0.4")));

        var app = builder.Build();
        var backend = new IPEndPoint(IPAddress.Loopback, builder.Configuration.GetValue<int>("Backend:Port"));
        app.MapGet("/ping", async (ISocketPool pool, CancellationToken ct) =>
        {
            await using var lease = await pool.AcquireAsync(backend, ct);
            return lease.LocalEndPoint.ToString();
        });
        app.MapGet("/replica", ([FromKeyedServices("replicas")] ISocketPool pool) => pool.GetSnapshot());
        // </readme>
        return app;
    }
}
