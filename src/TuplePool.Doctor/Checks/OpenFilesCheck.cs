using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>The open-file limit against the sockets a pool of the configured size may open to one destination.</summary>
internal static class OpenFilesCheck
{
    public static Finding Run(HostFacts facts, PoolPlan plan)
    {
        var limit = OpenFileLimit.Read(facts.Tree);
        if (limit is null)
        {
            return new Finding("open files", Verdict.Warn, F($"{SysctlReader.SelfLimitsPath}: missing or not readable"), "The open-file limit is unknown.");
        }

        var need = plan.MaxSocketsPerDestination;
        var data = new JsonObject
        {
            ["soft"] = limit.Soft,
            ["hard"] = limit.Hard,
            ["source"] = limit.Origin,
            ["socketsPerDestination"] = need,
        };
        var shown = F($"soft {Show(limit.Soft)}, hard {Show(limit.Hard)} ({limit.Origin})");
        var whose = " These are the doctor's own limits; a service's may differ (systemd LimitNOFILE, /proc/PID/limits).";
        var pool = F($"a pool {plan.Description} may open {N(need)} sockets to one destination");
        if (limit.Soft is { } soft && soft < need)
        {
            var raise = limit.Hard is { } hard && hard < need
                ? F($" The hard limit {N(hard)} is too low as well: raise it (LimitNOFILE in systemd, nofile in limits.conf).")
                : " Raise the soft limit (ulimit -n, LimitNOFILE in systemd).";
            return new Finding("open files", Verdict.Warn, shown, F($"{char.ToUpperInvariant(pool[0])}{pool[1..]}, more than the {N(soft)} files this process may open: it would fail with EMFILE (Too many open files) before the port budget runs out.{raise} Or cap MaxConnectionsPerDestination.{whose}"), data);
        }

        return new Finding("open files", Verdict.Ok, shown, F($"Enough: {pool}.{whose}"), data);
    }

    private static string Show(long? value) => value is { } v ? N(v) : "unlimited";
}
