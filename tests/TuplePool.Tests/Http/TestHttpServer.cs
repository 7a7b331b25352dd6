using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TuplePool.Tests.Http;

/// <summary>
/// Kestrel on 127.0.0.1, on a random free port below 32768 (outside the ephemeral range). <c>GET /whoami</c>
/// answers with the client's address; <c>GET /hold</c> does the same once <see cref="Release"/>
/// is called, so tests can keep many connections busy at once. Records every client address.
/// </summary>
public sealed class TestHttpServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _held;

    private TestHttpServer(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    /// <summary>The listening address, for raw TCP connections.</summary>
    public IPEndPoint EndPoint => new(IPAddress.Loopback, BaseAddress.Port);

    /// <summary>Requests seen per client address.</summary>
    public ConcurrentDictionary<IPAddress, int> ClientAddresses { get; } = new();

    /// <summary>Requests to <c>/hold</c> that have arrived (held or answered).</summary>
    public int Held => Volatile.Read(ref _held);

    public static async Task<TestHttpServer> StartAsync(CancellationToken cancellationToken)
    {
        // A random port below 32768, not port 0: port 0 takes a port from the ephemeral range, and
        // a port bound explicitly (on any address) is skipped by every connect() that picks its own
        // port, so it could be missing from some test's client port slice. Retry on a taken port.
        for (var attempt = 0; ; attempt++)
        {
            var port = Random.Shared.Next(20000, 32000);
            try
            {
                return await StartAsync(port, cancellationToken);
            }
            catch (IOException e) when (attempt < 20 && e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
            {
            }
        }
    }

    private static async Task<TestHttpServer> StartAsync(int port, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, port));
        var app = builder.Build();
        TestHttpServer? server = null;
        app.MapGet("/whoami", (HttpContext context) => server!.Seen(context));
        app.MapGet("/hold", async (HttpContext context) =>
        {
            Interlocked.Increment(ref server!._held);
            await server._gate.Task.WaitAsync(context.RequestAborted);
            return server.Seen(context);
        });
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        var address = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Single();
        server = new TestHttpServer(app, new Uri(address));
        return server;
    }

    /// <summary>Lets every held request (and later ones) answer.</summary>
    public void Release() => _gate.TrySetResult();

    /// <summary>Polls (real time, bounded) until <paramref name="condition"/> holds; false when it never did.</summary>
    public static async Task<bool> EventuallyAsync(Func<bool> condition, TimeSpan limit)
    {
        var start = TimeProvider.System.GetTimestamp();
        while (!condition())
        {
            if (TimeProvider.System.GetElapsedTime(start) > limit)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    public async ValueTask DisposeAsync()
    {
        Release();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private string Seen(HttpContext context)
    {
        var remote = context.Connection.RemoteIpAddress!;
        ClientAddresses.AddOrUpdate(remote, 1, static (_, n) => n + 1);
        return remote.ToString();
    }
}
