using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using TuplePool;
using TuplePool.Yarp;
using Yarp.ReverseProxy.Configuration.ClusterValidators;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;
using Yarp.ReverseProxy.Transforms.Builder;

// In the DI namespace, like YARP's own AddReverseProxy, LoadFromConfig and ConfigureHttpClient, so
// `.UseTuplePool()` is found without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Opens YARP's connections to its destinations through TuplePool.</summary>
public static class TuplePoolReverseProxyBuilderExtensions
{
    /// <summary>
    /// Replaces YARP's <see cref="IForwarderHttpClientFactory"/> with one that keeps YARP's handler
    /// settings (SSL, <c>MaxConnectionsPerServer</c>, the cluster's <c>HttpClient</c> configuration,
    /// the 15 s <c>ConnectTimeout</c>) and opens every connection through a TuplePool: by default a
    /// pool of the cluster's own, built from the default pool's options (<c>services.AddTuplePool(...)</c>,
    /// the <c>TuplePool</c> configuration section), kept across configuration reloads and disposed
    /// when the cluster is removed and at shutdown; or, with cluster metadata
    /// <see cref="TuplePoolProxyMetadata.Pool"/> (<c>"TuplePool.Pool": "name"</c>), the pool
    /// registered with <c>services.AddTuplePool("name", ...)</c>. A request the pool refuses for an
    /// exhausted budget is answered with 503 Service Unavailable and <c>Retry-After</c>
    /// (<see cref="TuplePoolProxyOptions.RetryAfter"/>) instead of YARP's 502, unless the response had
    /// started or the route's metadata <see cref="TuplePoolProxyMetadata.Respond503"/> is <c>"false"</c>.
    /// </summary>
    /// <remarks>
    /// Registers the default pool's options as <c>services.AddTuplePool()</c> does, if that was not
    /// called. Each cluster's own pool has a budget of its own: clusters that reach the same
    /// destination should share a named pool, or their budgets overlap. A cluster naming a pool that
    /// was never registered fails YARP's configuration validation (the host does not start; a reload
    /// is rejected). The pool each cluster uses is found through <see cref="IClusterSocketPools"/>.
    /// Calling this again adds <paramref name="configure"/> to the same options.
    /// </remarks>
    /// <param name="builder">The builder from <c>services.AddReverseProxy()</c>.</param>
    /// <param name="configure">Sets the <c>Retry-After</c> and handler settings YARP's configuration has no key for.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    /// <exception cref="InvalidOperationException">
    /// Another <see cref="IForwarderHttpClientFactory"/> is registered (YARP's <c>ConfigureHttpClient</c>, or
    /// a factory of the application's own): this would silently replace it.
    /// </exception>
    public static IReverseProxyBuilder UseTuplePool(this IReverseProxyBuilder builder, Action<TuplePoolProxyOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        ThrowIfOtherFactory(services);

        services.AddTuplePool();
        var options = services.AddOptions<TuplePoolProxyOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TuplePoolProxyOptions>, TuplePoolProxyOptionsValidator>());

        services.TryAddSingleton<ClusterPools>();
        services.TryAddSingleton<IClusterSocketPools>(static sp => sp.GetRequiredService<ClusterPools>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterChangeListener, ClusterPools>(static sp => sp.GetRequiredService<ClusterPools>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterValidator, ClusterPoolValidator>());
        services.RemoveAll<IForwarderHttpClientFactory>();
        services.AddSingleton<IForwarderHttpClientFactory, TuplePoolForwarderHttpClientFactory>();

        services.TryAddSingleton<RetryAfterPolicy>();
        services.TryAddSingleton<BudgetExhaustedTransform>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<ITransformProvider, BudgetExhaustedTransformProvider>());
        return builder;
    }

    /// <summary>As YARP's own <c>ConfigureHttpClient</c> does: never override a factory someone else registered.</summary>
    private static void ThrowIfOtherFactory(IServiceCollection services)
    {
        foreach (var descriptor in services)
        {
            if (descriptor.ServiceType == typeof(IForwarderHttpClientFactory)
                && descriptor.ImplementationType != typeof(ForwarderHttpClientFactory)
                && descriptor.ImplementationType != typeof(TuplePoolForwarderHttpClientFactory))
            {
                throw new InvalidOperationException(
                    "UseTuplePool() replaces YARP's IForwarderHttpClientFactory, but another one is registered (ConfigureHttpClient(...) or a factory of your own), "
                    + "and it would be dropped. Move its handler settings into UseTuplePool(o => o.ConfigureHandler = (context, handler) => { ... }) instead.");
            }
        }
    }
}
