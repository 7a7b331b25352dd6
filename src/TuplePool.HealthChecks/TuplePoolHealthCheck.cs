using System.Globalization;
using System.Net.Sockets;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace TuplePool.HealthChecks;

/// <summary>
/// The health of one pool, as its callers saw it. Unhealthy when every source of an address family
/// is quarantined or a caller received a refusal within
/// <see cref="TuplePoolHealthCheckOptions.RefusalWindow"/>; Degraded when only background
/// refusals came in that window (connection attempts of <c>SocketsHttpHandler</c> no request was
/// reported to receive), when a tuple of a source in use is above
/// <see cref="TuplePoolHealthCheckOptions.BudgetThreshold"/> of its budget, or when callers are
/// waiting; otherwise Healthy. The data lists the busiest tuples.
/// </summary>
internal sealed class TuplePoolHealthCheck(IPoolHealthSource source, TuplePoolHealthCheckOptions options, TimeProvider timeProvider) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var reading = source.Read();
        var now = timeProvider.GetUtcNow();
        var unhealthy = new List<string>();
        var degraded = new List<string>();

        foreach (var family in reading.QuarantinedFamilies ?? [])
        {
            unhealthy.Add($"every {FamilyName(family)} source is quarantined (binding to it failed)");
        }

        if (reading.LastRefusal is { } last && now - last < options.RefusalWindow)
        {
            unhealthy.Add(Invariant($"callers were refused for exhaustion in the last {options.RefusalWindow.TotalSeconds:0.#} s (most recently {(now - last).TotalSeconds:0.#} s ago, {reading.RefusedTotal ?? 0} in all)"));
        }
        else if (reading.LastBackground is { } background && now - background < options.RefusalWindow)
        {
            // No caller saw these: HttpClient served the requests that started the attempts with
            // other connections (or they were cancelled). Short of room, not failing callers.
            degraded.Add(Invariant($"background connection attempts were refused for exhaustion in the last {options.RefusalWindow.TotalSeconds:0.#} s, no request received them (most recently {(now - background).TotalSeconds:0.#} s ago, {reading.BackgroundTotal ?? 0} in all)"));
        }

        // A quarantined source's tuples give no port: that is the quarantine (above), not use.
        var busiest = reading.Tuples
            .Where(static t => t.Capacity > 0 && !t.IsQuarantined)
            .OrderByDescending(static t => Share(t))
            .ThenBy(static t => t.Remaining)
            .ToList();
        var crowded = busiest.Count(t => Used(t) > options.BudgetThreshold * t.Capacity);
        if (crowded > 0)
        {
            degraded.Add(Invariant($"{crowded} tuple(s) above {options.BudgetThreshold:P0} of their port budget, busiest {Describe(busiest[0])}"));
        }

        if (reading.PendingAcquires is > 0)
        {
            degraded.Add(Invariant($"{reading.PendingAcquires} caller(s) waiting for a connection"));
        }

        var data = new Dictionary<string, object>(StringComparer.Ordinal)
        {
            ["tuples"] = reading.Tuples.Count,
            ["busiest"] = busiest.Take(options.BusiestTuples).Select(Describe).ToArray(),
            ["pendingAcquires"] = reading.PendingAcquires is { } pending ? pending : "unknown",
            ["refusedTotal"] = reading.RefusedTotal is { } total ? total : "unknown",
            ["backgroundRefusedTotal"] = reading.BackgroundTotal is { } backgroundTotal ? backgroundTotal : "unknown",
            ["quarantinedFamilies"] = reading.QuarantinedFamilies is { } families ? families.Select(FamilyName).ToArray() : "unknown",
        };
        if (reading.LastRefusal is { } lastRefusal)
        {
            data["lastRefusal"] = lastRefusal.ToString("O", CultureInfo.InvariantCulture);
        }

        if (reading.LastBackground is { } lastBackground)
        {
            data["lastBackgroundRefusal"] = lastBackground.ToString("O", CultureInfo.InvariantCulture);
        }

        HealthCheckResult result;
        if (unhealthy.Count > 0)
        {
            result = new HealthCheckResult(context.Registration?.FailureStatus ?? HealthStatus.Unhealthy, string.Join("; ", unhealthy.Concat(degraded)), data: data);
        }
        else if (degraded.Count > 0)
        {
            result = HealthCheckResult.Degraded(string.Join("; ", degraded), data: data);
        }
        else
        {
            result = HealthCheckResult.Healthy(
                busiest.Count == 0 ? "no tuple in use" : Invariant($"{reading.Tuples.Count} tuple(s), busiest {Describe(busiest[0])}"),
                data);
        }

        return Task.FromResult(result);
    }

    // Ports a caller cannot have now: leased, in TIME_WAIT, or held back after a kernel refusal.
    // Idle connections are left out: the next caller to that destination takes one at once.
    private static int Used(TupleUsage usage) => Math.Max(0, usage.Capacity - usage.Remaining - usage.Idle);

    private static double Share(TupleUsage usage) => (double)Used(usage) / usage.Capacity;

    private static string Describe(TupleUsage usage)
        => Invariant($"{usage.Source} -> {usage.Destination}: {Used(usage)} of {usage.Capacity} ports used ({Share(usage):P0}; {usage.Active} active, {usage.Idle} idle, {usage.TimeWait} TIME_WAIT)");

    private static string FamilyName(AddressFamily family) => family switch
    {
        AddressFamily.InterNetwork => "IPv4",
        AddressFamily.InterNetworkV6 => "IPv6",
        _ => family.ToString(),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
