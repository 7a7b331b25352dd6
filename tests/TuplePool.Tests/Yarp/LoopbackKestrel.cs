using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;

namespace TuplePool.Tests.Yarp;

/// <summary>
/// A real Kestrel on 127.0.0.1, on a random free port below 32768 (never port 0: a port taken from
/// the ephemeral range would be missing from every outgoing tuple). Shared by the YARP tests (the
/// proxy and its backends) and the gRPC tests (a gRPC server speaking HTTP/2 without TLS).
/// </summary>
internal sealed class LoopbackKestrel : IAsyncDisposable
{
    private LoopbackKestrel(WebApplication app, int port)
    {
        App = app;
        Port = port;
    }

    public WebApplication App { get; }

    public int Port { get; }

    public IServiceProvider Services => App.Services;

    public IPEndPoint EndPoint => new(IPAddress.Loopback, Port);

    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");

    /// <summary>
    /// Builds and starts an app: <paramref name="configureBuilder"/> registers services and
    /// configuration, <paramref name="configureApp"/> maps endpoints. A failure in either is thrown,
    /// the app disposed. <paramref name="connectionAccepted"/> is told the client end of every TCP
    /// connection Kestrel accepts, whether or not a request arrives on it.
    /// </summary>
    public static async Task<LoopbackKestrel> StartAsync(
        Action<WebApplicationBuilder> configureBuilder,
        Action<WebApplication> configureApp,
        HttpProtocols protocols = HttpProtocols.Http1,
        Action<IPEndPoint>? connectionAccepted = null)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 32000);
            try
            {
                return await StartAsync(port, configureBuilder, configureApp, protocols, connectionAccepted);
            }
            catch (IOException e) when (attempt < 20 && e.InnerException is AddressInUseException)
            {
            }
        }
    }

    private static async Task<LoopbackKestrel> StartAsync(
        int port,
        Action<WebApplicationBuilder> configureBuilder,
        Action<WebApplication> configureApp,
        HttpProtocols protocols,
        Action<IPEndPoint>? connectionAccepted)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port, l =>
        {
            l.Protocols = protocols;
            if (connectionAccepted is not null)
            {
                l.Use(next => connection =>
                {
                    connectionAccepted((IPEndPoint)connection.RemoteEndPoint!);
                    return next(connection);
                });
            }
        }));
        configureBuilder(builder);
        var app = builder.Build();
        try
        {
            configureApp(app);
            await app.StartAsync(TestContext.Current.CancellationToken);
            return new LoopbackKestrel(app, port);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await App.StopAsync();
        await App.DisposeAsync();
    }
}
