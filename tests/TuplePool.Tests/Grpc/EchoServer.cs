using System.Collections.Concurrent;
using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using TuplePool.Tests.Yarp;

namespace TuplePool.Tests.Grpc;

/// <summary>
/// A Kestrel gRPC server (Grpc.AspNetCore) on 127.0.0.1 below 32768, HTTP/2 without TLS (prior
/// knowledge), with the <c>Echo</c> service of echo.proto. Each HTTP/2 connection carries at most
/// <c>maxStreamsPerConnection</c> streams (SETTINGS_MAX_CONCURRENT_STREAMS), so a client with more
/// calls at once must open more connections. Records every TCP connection it accepts.
/// </summary>
internal sealed class EchoServer : IAsyncDisposable
{
    private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopbackKestrel _server = null!;
    private int _heldStreams;

    public Uri Address => _server.BaseAddress;

    public IPEndPoint EndPoint => _server.EndPoint;

    /// <summary>The client end of every connection accepted.</summary>
    public ConcurrentDictionary<IPEndPoint, byte> Connections { get; } = new();

    /// <summary>Held <c>Count</c> streams that have sent their first reply.</summary>
    public int HeldStreams => Volatile.Read(ref _heldStreams);

    public static async Task<EchoServer> StartAsync(int maxStreamsPerConnection = 100)
    {
        var server = new EchoServer();
        server._server = await LoopbackKestrel.StartAsync(
            builder =>
            {
                builder.WebHost.ConfigureKestrel(k => k.Limits.Http2.MaxStreamsPerConnection = maxStreamsPerConnection);
                builder.Services.AddGrpc();
                builder.Services.AddSingleton(server);
            },
            app => app.MapGrpcService<EchoService>(),
            HttpProtocols.Http2,
            client => server.Connections.TryAdd(client, 0));
        return server;
    }

    /// <summary>Lets every held stream (and later ones) finish.</summary>
    public void Release() => _gate.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        Release();
        await _server.DisposeAsync();
    }

    private static string Peer(ServerCallContext context)
    {
        var connection = context.GetHttpContext().Connection;
        return new IPEndPoint(connection.RemoteIpAddress!, connection.RemotePort).ToString();
    }

    /// <summary>The service; Grpc.AspNetCore creates one per call.</summary>
    private sealed class EchoService(EchoServer server) : Echo.EchoBase
    {
        public override Task<EchoReply> Say(EchoRequest request, ServerCallContext context)
            => Task.FromResult(new EchoReply { Text = request.Text, Peer = Peer(context) });

        public override async Task Count(CountRequest request, IServerStreamWriter<EchoReply> responseStream, ServerCallContext context)
        {
            for (var i = 1; i <= request.Count; i++)
            {
                await responseStream.WriteAsync(new EchoReply { Text = i.ToString(System.Globalization.CultureInfo.InvariantCulture), Peer = Peer(context) });
                if (i == 1 && request.Hold)
                {
                    Interlocked.Increment(ref server._heldStreams);
                    await server._gate.Task.WaitAsync(context.CancellationToken);
                }
            }
        }
    }
}
