using System.Net.Http;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using TuplePool;
using TuplePool.Http;

// In the DI namespace, next to AddHttpClient, so `.UseTuplePool()` is found without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Opens the connections of an <see cref="IHttpClientFactory"/> client through TuplePool.</summary>
public static class TuplePoolHttpClientBuilderExtensions
{
    /// <summary>
    /// Makes the client's primary handler a <see cref="SocketsHttpHandler"/> that opens every
    /// connection through the default <see cref="ISocketPool"/> registered with
    /// <c>services.AddTuplePool()</c>. The pool is a singleton, so the port budget holds across
    /// the handler rotation of <see cref="IHttpClientFactory"/> and across every client using it.
    /// </summary>
    /// <remarks>
    /// Other <see cref="SocketsHttpHandler"/> settings can still be made with
    /// <c>UseSocketsHttpHandler((handler, services) =&gt; ...)</c>, before or after this call; do not set a
    /// <see cref="SocketsHttpHandler.ConnectCallback"/> of your own. A primary handler replaced after
    /// this call (<c>ConfigurePrimaryHttpMessageHandler</c>) would bypass the pool: the client's first
    /// <c>CreateClient</c> then throws <see cref="InvalidOperationException"/> saying so. Requests that find no free
    /// port within <see cref="TuplePoolOptions.AcquireTimeout"/> fail with
    /// <see cref="HttpRequestException"/> whose inner exception is <see cref="TupleBudgetExhaustedException"/>;
    /// the client reports each such request to the pool as one that received the refusal
    /// (<see cref="TupleBudgetExhaustedException.MarkReceived"/>), so health checks tell refusals
    /// callers got from those of connection attempts no request saw.
    /// </remarks>
    /// <param name="builder">The client's builder, from <c>AddHttpClient</c>.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IHttpClientBuilder UseTuplePool(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Guard(builder);
        return builder.UseSocketsHttpHandler(static (handler, services) =>
            PrimaryHandlerGuard.Remember(handler.UseTuplePool(services.GetService<ISocketPool>()
                ?? throw new InvalidOperationException(
                    "UseTuplePool() found no TuplePool in the service collection. Register one with services.AddTuplePool(...)."))));
    }

    /// <summary>
    /// Like <see cref="UseTuplePool(IHttpClientBuilder)"/>, with the named pool registered with
    /// <c>services.AddTuplePool(poolName, ...)</c> (its own source addresses and budget).
    /// </summary>
    /// <param name="builder">The client's builder, from <c>AddHttpClient</c>.</param>
    /// <param name="poolName">The name the pool was registered with.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IHttpClientBuilder UseTuplePool(this IHttpClientBuilder builder, string poolName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        Guard(builder);
        return builder.UseSocketsHttpHandler((handler, services) =>
            PrimaryHandlerGuard.Remember(handler.UseTuplePool(services.GetKeyedService<ISocketPool>(poolName)
                ?? throw new InvalidOperationException(
                    $"UseTuplePool(\"{poolName}\") found no TuplePool named '{poolName}'. Register it with services.AddTuplePool(\"{poolName}\", ...)."))));
    }

    /// <summary>Marks the client as pooled and registers the filters that fail it if its handler is later replaced and report the refusals its requests receive.</summary>
    private static void Guard(IHttpClientBuilder builder)
    {
        builder.Services.Configure<PoolClientMarker>(builder.Name, static m => m.UsesTuplePool = true);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter, PrimaryHandlerGuard>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHttpMessageHandlerBuilderFilter, RefusalReceiptFilter>());
    }
}
