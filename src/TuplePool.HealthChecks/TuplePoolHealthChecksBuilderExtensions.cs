using Microsoft.Extensions.Diagnostics.HealthChecks;
using TuplePool;
using TuplePool.HealthChecks;

// In the DI namespace, like the other AddXxx health-check extensions, so
// `services.AddHealthChecks().AddTuplePool()` is found without an extra using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a health check for a TuplePool pool registered with <c>AddTuplePool</c>.</summary>
public static class TuplePoolHealthChecksBuilderExtensions
{
    /// <summary>The registration name of the default pool's check; a keyed pool's is <c>tuplepool:NAME</c>.</summary>
    public const string DefaultRegistrationName = "tuplepool";

    /// <summary>
    /// Checks the default pool (<c>services.AddTuplePool()</c>): Degraded when a tuple is above
    /// 90 % of its port budget, callers are waiting, or background connection attempts no request
    /// saw were refused in the last 30 s; Unhealthy when every source of an address family is
    /// quarantined or callers received a refusal in the last 30 s (see
    /// <see cref="TuplePoolHealthCheckOptions"/>). Registered as <c>"tuplepool"</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="configure">Changes the thresholds.</param>
    /// <param name="tags">Tags to filter checks by (e.g. <c>"ready"</c>).</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IHealthChecksBuilder AddTuplePool(this IHealthChecksBuilder builder, Action<TuplePoolHealthCheckOptions>? configure = null, IEnumerable<string>? tags = null)
        => Add(builder, poolName: null, configure, tags);

    /// <summary>
    /// Checks the keyed pool <paramref name="poolName"/> (<c>services.AddTuplePool("name", ...)</c>);
    /// as <see cref="AddTuplePool(IHealthChecksBuilder, Action{TuplePoolHealthCheckOptions}?, IEnumerable{string}?)"/>,
    /// registered as <c>"tuplepool:NAME"</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="poolName">The key the pool was registered with.</param>
    /// <param name="configure">Changes the thresholds.</param>
    /// <param name="tags">Tags to filter checks by.</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IHealthChecksBuilder AddTuplePool(this IHealthChecksBuilder builder, string poolName, Action<TuplePoolHealthCheckOptions>? configure = null, IEnumerable<string>? tags = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(poolName);
        return Add(builder, poolName, configure, tags);
    }

    private static IHealthChecksBuilder Add(IHealthChecksBuilder builder, string? poolName, Action<TuplePoolHealthCheckOptions>? configure, IEnumerable<string>? tags)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = new TuplePoolHealthCheckOptions();
        configure?.Invoke(options);
        options.Validate();
        options = options.Copy();

        var registrationName = poolName is null ? DefaultRegistrationName : DefaultRegistrationName + ":" + poolName;
        return builder.Add(new HealthCheckRegistration(
            registrationName,
            sp => new TuplePoolHealthCheck(CreateSource(sp, poolName), options, sp.GetService<TimeProvider>() ?? TimeProvider.System),
            failureStatus: HealthStatus.Unhealthy,
            tags));
    }

    private static IPoolHealthSource CreateSource(IServiceProvider services, string? poolName)
    {
        var pool = poolName is null
            ? services.GetRequiredService<ISocketPool>()
            : services.GetRequiredKeyedService<ISocketPool>(poolName);
        return pool is SocketPool socketPool
            ? new SocketPoolHealthSource(socketPool)
            : new SnapshotHealthSource(pool);
    }
}
