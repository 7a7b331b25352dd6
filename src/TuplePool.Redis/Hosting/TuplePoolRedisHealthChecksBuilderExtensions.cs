using Microsoft.Extensions.Diagnostics.HealthChecks;
using TuplePool.Redis;
using TuplePool.Redis.Hosting;

// In the DI namespace, like the other AddXxx health-check extensions.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds a health check for the <see cref="RedisFleetBudget"/> registered with <c>AddTuplePoolRedisFleet</c>.</summary>
public static class TuplePoolRedisHealthChecksBuilderExtensions
{
    /// <summary>The registration name of the check.</summary>
    public const string RegistrationName = "tuplepool-fleet";

    /// <summary>
    /// Checks the fleet budget: Healthy when Redis answers, Degraded while it is unreachable or
    /// recovering from lost keys, Unhealthy when Redis refused this instance's settings
    /// (<see cref="RedisFleetStatus"/>). Registered as <c>"tuplepool-fleet"</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="tags">Tags to filter checks by (e.g. <c>"ready"</c>).</param>
    /// <returns><paramref name="builder"/>, for chaining.</returns>
    public static IHealthChecksBuilder AddTuplePoolRedisFleet(this IHealthChecksBuilder builder, IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(
            RegistrationName,
            static sp => new RedisFleetHealthCheck(sp.GetRequiredService<RedisFleetBudget>()),
            failureStatus: HealthStatus.Unhealthy,
            tags));
    }
}
