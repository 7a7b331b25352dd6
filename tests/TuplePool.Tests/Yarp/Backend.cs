using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace TuplePool.Tests.Yarp;

/// <summary>
/// A Kestrel backend behind the proxy. <c>GET /who</c> answers <c>"NAME SOURCE:PORT"</c>, the
/// connection the proxy used; <c>GET /hold</c> answers the same once <see cref="Release"/> is
/// called, so a test can keep the proxy's connections busy. Records every client endpoint.
/// </summary>
internal sealed class Backend : IAsyncDisposable
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopbackKestrel _server = null!;
    private int _held;

    private Backend(string name) => Name = name;

    public string Name { get; }

    public IPEndPoint EndPoint => _server.EndPoint;

    public string Address => _server.BaseAddress.ToString();

    /// <summary>The proxy's connections this backend saw (source address and port), with their requests.</summary>
    public ConcurrentDictionary<IPEndPoint, int> Clients { get; } = new();

    /// <summary>Requests to <c>/hold</c> that have arrived (held or answered).</summary>
    public int Held => Volatile.Read(ref _held);

    public static async Task<Backend> StartAsync(string name)
    {
        var backend = new Backend(name);
        backend._server = await LoopbackKestrel.StartAsync(_ => { }, app =>
        {
            app.MapGet("/who", backend.Answer);
            app.MapGet("/hold", async (HttpContext context) =>
            {
                Interlocked.Increment(ref backend._held);
                await backend._gate.Task.WaitAsync(context.RequestAborted);
                return backend.Answer(context);
            });
        });
        return backend;
    }

    /// <summary>Lets every held request (and later ones) answer.</summary>
    public void Release() => _gate.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _server.DisposeAsync();
    }

    private string Answer(HttpContext context)
    {
        var client = new IPEndPoint(context.Connection.RemoteIpAddress!, context.Connection.RemotePort);
        Clients.AddOrUpdate(client, 1, static (_, n) => n + 1);
        return $"{Name} {client}";
    }
}
