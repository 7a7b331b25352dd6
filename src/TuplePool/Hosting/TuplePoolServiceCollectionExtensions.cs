using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TuplePool;
using TuplePool.Hosting;

// In the DI namespace, like AddHttpClient and AddOptions, so `services.AddTuplePool()` is found
// without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers TuplePool's <see cref="ISocketPool"/> in a service collection.</summary>
public static class TuplePoolServiceCollectionExtensions
{
    /// <summary>
    /// Registers the default pool: <see cref="SocketPool"/> and <see cref="ISocketPool"/> as one
    /// singleton, built from <see cref="TuplePoolOptions"/> (the unnamed options) with the
    /// <see cref="TimeProvider"/>, <see cref="ILoggerFactory"/> and <see cref="IMeterFactory"/> from
    /// the container (<see cref="TimeProvider.System"/> when none is registered). The options are
    /// validated when the host starts (<c>ValidateOnStart</c>); a bad setting stops it with the
    /// setting's name and value in the message.
    /// </summary>
    /// <remarks>
    /// Calling it again adds <paramref name="configure"/> to the same pool's options. Options can
    /// also be shaped with <c>services.Configure&lt;TuplePoolOptions&gt;(...)</c>. The pool reads its
    /// options once, when it is created; later configuration reloads do not change a running pool.
    /// </remarks>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets options in code; runs after configuration binding registered earlier.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTuplePool(this IServiceCollection services, Action<TuplePoolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        AddOptions(services, Options.Options.DefaultName, configure);
        services.TryAddSingleton(static sp => CreatePool(sp, Options.Options.DefaultName));
        services.TryAddSingleton<ISocketPool>(static sp => sp.GetRequiredService<SocketPool>());
        return services;
    }

    /// <summary>
    /// Registers the default pool (see <see cref="AddTuplePool(IServiceCollection, Action{TuplePoolOptions}?)"/>)
    /// with options read from configuration. Pass the application's configuration to read the
    /// <c>"TuplePool"</c> section, or pass
    /// a section (an <see cref="IConfigurationSection"/>) to read that one.
    /// </summary>
    /// <remarks>
    /// Reads <c>"SourceAddresses": ["127.0.0.2", "127.0.0.3"]</c> (or <c>"127.0.0.2,127.0.0.3"</c>),
    /// <c>"LocalPortRange": "40000-44999"</c>, time spans as <c>"00:00:30"</c> or <c>"Infinite"</c>,
    /// enums by name. A configured <c>SourceAddresses</c> list replaces the one set before. Values that
    /// cannot be read, and keys that are no setting (with the nearest setting's name), are reported
    /// with their configuration key when the options are validated; subsections of named pools
    /// (<c>"TuplePool:{name}"</c>) are left to those pools. A section that does not exist (a
    /// misspelt name or path) fails validation too, naming the section and a sibling whose name is
    /// close; to start on the defaults, register the pool without configuration.
    /// </remarks>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The application's configuration, or the pool's own section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTuplePool(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        BindConfiguration(services, Options.Options.DefaultName, configuration, TuplePoolDefaults.ConfigurationSectionName);
        return services.AddTuplePool();
    }

    /// <summary>
    /// Registers a named pool as keyed singletons <see cref="SocketPool"/> and <see cref="ISocketPool"/>
    /// with key <paramref name="name"/>, resolved with <c>[FromKeyedServices("name")]</c> or
    /// <c>GetRequiredKeyedService&lt;ISocketPool&gt;("name")</c>. It has its own options (the named
    /// options <paramref name="name"/>), budget and sockets: use it for a set of callers that need
    /// their own source addresses or port slice.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The pool's name: the service key and the options name. Not empty.</param>
    /// <param name="configure">Sets options in code.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTuplePool(this IServiceCollection services, string name, Action<TuplePoolOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        TuplePoolNames.Of(services).Add(name);
        AddOptions(services, name, configure);
        services.TryAddKeyedSingleton(name, static (sp, key) => CreatePool(sp, (string)key!));
        services.TryAddKeyedSingleton<ISocketPool>(name, static (sp, key) => sp.GetRequiredKeyedService<SocketPool>(key));
        return services;
    }

    /// <summary>
    /// Registers a named pool (see <see cref="AddTuplePool(IServiceCollection, string, Action{TuplePoolOptions}?)"/>)
    /// with options read from configuration: pass a section to read that one, or the application's
    /// configuration to read <c>"TuplePool:{name}"</c>. The named pool's section inherits nothing
    /// from the default pool's <c>"TuplePool"</c> section: settings it leaves out keep their defaults.
    /// A section that does not exist fails validation at start, naming it.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">The pool's name: the service key and the options name. Not empty.</param>
    /// <param name="configuration">The application's configuration, or the pool's own section.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    public static IServiceCollection AddTuplePool(this IServiceCollection services, string name, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(configuration);
        BindConfiguration(services, name, configuration, ConfigurationPath.Combine(TuplePoolDefaults.ConfigurationSectionName, name));
        return services.AddTuplePool(name);
    }

    private static void AddOptions(IServiceCollection services, string name, Action<TuplePoolOptions>? configure)
    {
        var builder = services.AddOptions<TuplePoolOptions>(name);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        // The pool's name in telemetry (tuplepool.pool.name): its DI key, "default" for the unnamed one.
        var poolName = string.IsNullOrEmpty(name) ? TuplePoolDefaults.PoolName : name;
        builder.PostConfigure(o => o.PoolName = poolName);

        builder.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TuplePoolOptions>, ValidateTuplePoolOptions>());
    }

    /// <summary>
    /// Binds the pool <paramref name="name"/> from <paramref name="configuration"/> when it is a
    /// section, else from its section <paramref name="defaultPath"/>, and checks at start that the
    /// section exists.
    /// </summary>
    private static void BindConfiguration(IServiceCollection services, string name, IConfiguration configuration, string defaultPath)
    {
        var given = configuration is IConfigurationSection;
        var section = given ? configuration : configuration.GetSection(defaultPath);
        services.AddOptions();
        services.AddSingleton<IOptionsChangeTokenSource<TuplePoolOptions>>(new ConfigurationChangeTokenSource<TuplePoolOptions>(name, section));
        var binding = new ConfigureTuplePoolFromConfiguration(name, section, TuplePoolNames.Of(services));
        services.AddSingleton<IConfigureOptions<TuplePoolOptions>>(binding);
        services.AddSingleton<IValidateOptions<TuplePoolOptions>>(binding);

        // A section given by the caller does not know its root: its siblings are looked up in the
        // application's configuration, the root of the sections a host hands out.
        services.AddSingleton<IValidateOptions<TuplePoolOptions>>(sp => new ValidateTuplePoolSectionExists(name, section, given ? sp.GetService<IConfiguration>() : configuration));
    }

    private static SocketPool CreatePool(IServiceProvider services, string name)
    {
        // IOptionsMonitor caches the validated instance, so the pool gets exactly the options
        // ValidateOnStart checked.
        var options = services.GetRequiredService<IOptionsMonitor<TuplePoolOptions>>().Get(name);
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var meterFactory = services.GetService<IMeterFactory>();

        // A registered fleet budget (AddTuplePoolRedisFleet) is one instance of the fleet and
        // serves one pool: the default one, and only with a NAT to share.
        if (name == Options.Options.DefaultName && options.Nat is not null && services.GetService<IFleetBudget>() is { } fleet)
        {
            return new SocketPool(options, fleet, time, loggerFactory, meterFactory);
        }

        return new SocketPool(options, time, loggerFactory, meterFactory);
    }
}
