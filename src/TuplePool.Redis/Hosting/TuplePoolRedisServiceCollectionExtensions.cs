using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using TuplePool;
using TuplePool.Redis;
using TuplePool.Redis.Hosting;

// In the DI namespace, like AddTuplePool, so `services.AddTuplePoolRedisFleet()` is found without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers a <see cref="RedisFleetBudget"/> as the <see cref="IFleetBudget"/> of the container's pool.</summary>
public static class TuplePoolRedisServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="RedisFleetBudget"/> and <see cref="IFleetBudget"/> as one singleton on the
    /// container's <see cref="IConnectionMultiplexer"/> (register it yourself, connected with
    /// <c>abortConnect=false</c>), with the container's <see cref="TimeProvider"/>,
    /// <see cref="ILoggerFactory"/> and <see cref="IMeterFactory"/>. The options are validated when
    /// the host starts (<c>ValidateOnStart</c>). The default pool (<c>AddTuplePool</c>) with
    /// <c>TuplePoolOptions.Nat</c> set draws its NAT grants from it.
    /// </summary>
    /// <remarks>One budget is one instance of the fleet and serves one pool: a second pool sharing the NAT needs a budget of its own.</remarks>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the fleet's options (at least <see cref="RedisFleetOptions.FleetName"/> and <see cref="RedisFleetOptions.ExpectedInstances"/>).</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTuplePoolRedisFleet(this IServiceCollection services, Action<RedisFleetOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<RedisFleetOptions>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisFleetOptions>, ValidateRedisFleetOptions>());
        services.TryAddSingleton(static sp => new RedisFleetBudget(
            sp.GetRequiredService<IConnectionMultiplexer>(),
            sp.GetRequiredService<IOptions<RedisFleetOptions>>().Value,
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<IMeterFactory>()));
        services.TryAddSingleton<IFleetBudget>(static sp => sp.GetRequiredService<RedisFleetBudget>());
        return services;
    }
}
