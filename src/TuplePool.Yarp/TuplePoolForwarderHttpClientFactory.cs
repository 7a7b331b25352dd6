using System.Net.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Forwarder;

namespace TuplePool.Yarp;

/// <summary>
/// YARP's client factory with TuplePool's connect: YARP's own handler settings first (the base
/// <see cref="ForwarderHttpClientFactory.ConfigureHandler"/>: SSL, <c>MaxConnectionsPerServer</c>,
/// the cluster's <c>HttpClient</c> configuration, its 15 s <c>ConnectTimeout</c>), then the
/// application's <see cref="TuplePoolProxyOptions.ConfigureHandler"/>, then the cluster's pool as
/// the <see cref="SocketsHttpHandler.ConnectCallback"/>; wrapped so a request's refusal is reported
/// as received (<see cref="RefusalReceiptHandler"/>).
/// </summary>
internal sealed class TuplePoolForwarderHttpClientFactory(
    ClusterPools pools,
    IOptions<TuplePoolProxyOptions> options,
    ILogger<ForwarderHttpClientFactory> logger)
    : ForwarderHttpClientFactory(logger)
{
    private readonly Action<ForwarderHttpClientContext, SocketsHttpHandler>? _configure = options.Value.ConfigureHandler;

    /// <summary>YARP reuses the old client when the cluster's <c>HttpClient</c> configuration is unchanged; the pool must be unchanged too.</summary>
    protected override bool CanReuseOldClient(ForwarderHttpClientContext context)
        => base.CanReuseOldClient(context) && PoolChoice.Same(context.OldMetadata, context.NewMetadata);

    /// <summary>YARP's wrapping, inside one that reports each request the pool refused as having received the refusal.</summary>
    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler)
        => new RefusalReceiptHandler(base.WrapHandler(context, handler));

    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        _configure?.Invoke(context, handler);
        handler.UseTuplePool(pools.PoolFor(context.ClusterId, context.NewMetadata));
    }
}
