using Microsoft.Extensions.Diagnostics.HealthChecks;
using TuplePool.Redis.Telemetry;

namespace TuplePool.Redis.Hosting;

/// <summary>
/// The health of the fleet budget, from <see cref="RedisFleetBudget.Status"/>: Healthy when Redis
/// answers, Degraded while it is unreachable (grants run out, then the static share) or recovering
/// from lost keys, Unhealthy when Redis refused this instance's settings.
/// </summary>
internal sealed class RedisFleetHealthCheck(RedisFleetBudget budget) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = budget.Status;
        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["status"] = FleetMetrics.StatusName(status),
            ["fleet"] = budget.FleetName,
            ["instance"] = budget.InstanceId,
            ["coordinatedDestinations"] = budget.CoordinatedDestinations,
            ["grantedPorts"] = budget.GrantedPorts,
        };
        if (budget.Shares is { } shares)
        {
            data["staticShare"] = shares.StaticShare;
        }

        var result = status switch
        {
            RedisFleetStatus.Connected => HealthCheckResult.Healthy("Redis answers: grants follow demand.", data),
            RedisFleetStatus.Recovering => HealthCheckResult.Degraded("Redis lost the fleet's keys a moment ago (or the fleet just started): no new grants until the recovery window ends; static shares and re-asserted grants serve meanwhile.", data: data),
            RedisFleetStatus.Unreachable => HealthCheckResult.Degraded("Redis is unreachable: grants run out with their leases, then each destination keeps to the static share.", data: data),
            _ => new HealthCheckResult(context.Registration?.FailureStatus ?? HealthStatus.Unhealthy, "Redis refused this instance: its NAT capacity or static-share settings differ from the fleet's; only the static share is used.", data: data),
        };
        return Task.FromResult(result);
    }
}
