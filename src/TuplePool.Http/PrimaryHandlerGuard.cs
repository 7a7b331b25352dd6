using System.Net.Http;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace TuplePool.Http;

/// <summary>
/// Catches the handler trap: <c>ConfigurePrimaryHttpMessageHandler(new SocketsHttpHandler { … })</c>
/// called after <c>UseTuplePool()</c> replaces the handler that opens connections through the pool,
/// and every request would then silently bypass the budget. Runs after all of a client's handler
/// actions (an <see cref="IHttpMessageHandlerBuilderFilter"/> wraps them) and fails the first
/// <c>CreateClient</c> of such a client with a message that says how to set handler options instead.
/// </summary>
internal sealed class PrimaryHandlerGuard(IOptionsMonitor<PoolClientMarker> markers) : IHttpMessageHandlerBuilderFilter
{
    // The handlers UseTuplePool configured, with the callback it set; a handler that was replaced,
    // or whose callback was overwritten, is not here with the same delegate.
    private static readonly ConditionalWeakTable<SocketsHttpHandler, object> s_pooled = new();

    public static void Remember(SocketsHttpHandler handler) => s_pooled.AddOrUpdate(handler, handler.ConnectCallback!);

    public Action<HttpMessageHandlerBuilder> Configure(Action<HttpMessageHandlerBuilder> next)
    {
        ArgumentNullException.ThrowIfNull(next);
        return builder =>
        {
            next(builder);
            var marker = markers.Get(builder.Name);
            if (!marker.UsesTuplePool)
            {
                return;
            }

            if (builder.PrimaryHandler is SocketsHttpHandler handler
                && s_pooled.TryGetValue(handler, out var callback)
                && ReferenceEquals(callback, handler.ConnectCallback))
            {
                return;
            }

            throw new InvalidOperationException(
                $"HttpClient '{builder.Name}' was set up with UseTuplePool(), but its primary handler was replaced afterwards "
                + $"(now {builder.PrimaryHandler?.GetType().Name ?? "null"}, usually by ConfigurePrimaryHttpMessageHandler) or its ConnectCallback overwritten, "
                + "so its connections would bypass TuplePool. Set handler options with .UseSocketsHttpHandler((handler, services) => { handler.MaxConnectionsPerServer = …; }) "
                + "instead of replacing the handler, and leave ConnectCallback to UseTuplePool().");
        };
    }
}

/// <summary>Named options: which <c>IHttpClientFactory</c> clients called <c>UseTuplePool()</c>.</summary>
internal sealed class PoolClientMarker
{
    public bool UsesTuplePool { get; set; }
}
