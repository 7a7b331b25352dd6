using System.Net.Http;
using Yarp.ReverseProxy.Forwarder;

namespace TuplePool.Yarp;

/// <summary>Settings of <c>services.AddReverseProxy().UseTuplePool(...)</c>.</summary>
public sealed class TuplePoolProxyOptions
{
    /// <summary>
    /// The <c>Retry-After</c> a client is told when its request was answered with 503 because no
    /// port was free to the destination and the refusal had no hint of its own (rounded up to whole
    /// seconds). A refusal says when room may come by itself where the pool knows it
    /// (<see cref="TupleBudgetExhaustedException.RetryAfter"/>: the next TIME_WAIT or NAT hold
    /// ending, a quarantine's end), and that is sent instead; this value is for refusals only a
    /// close can end (every port held by open connections, the connection limit).
    /// </summary>
    /// <value>Default: 5 seconds. Zero or positive, at most one day.</value>
    public TimeSpan RetryAfter { get; set; } = TuplePoolProxyDefaults.RetryAfter;

    /// <summary>
    /// Changes the <see cref="SocketsHttpHandler"/> of each cluster's client after YARP applied the
    /// cluster's <c>HttpClient</c> configuration and before TuplePool sets its
    /// <see cref="SocketsHttpHandler.ConnectCallback"/>: the place for settings YARP's configuration
    /// has no key for (<see cref="SocketsHttpHandler.ConnectTimeout"/>,
    /// <see cref="SocketsHttpHandler.PooledConnectionIdleTimeout"/>, …). <c>UseTuplePool()</c> replaces
    /// YARP's <see cref="IForwarderHttpClientFactory"/>, so this takes the place of YARP's own
    /// <c>ConfigureHttpClient</c>. Do not set a <see cref="SocketsHttpHandler.ConnectCallback"/> here.
    /// </summary>
    /// <value>Default: null, which changes nothing.</value>
    public Action<ForwarderHttpClientContext, SocketsHttpHandler>? ConfigureHandler { get; set; }
}
