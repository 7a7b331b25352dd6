using System.Text.Json.Nodes;

namespace TuplePool.NetnsRunner;

/// <summary>Every scenario the runner knows, by the name given on the command line.</summary>
internal static class Scenarios
{
    public static readonly IReadOnlyDictionary<string, Func<RunnerArgs, Task<JsonObject>>> All = Build();

    private static Dictionary<string, Func<RunnerArgs, Task<JsonObject>>> Build()
    {
        var all = new Dictionary<string, Func<RunnerArgs, Task<JsonObject>>>(StringComparer.Ordinal)
        {
            ["happy-eyeballs"] = HappyEyeballsScenario.RunAsync,
            ["time-wait-ledger"] = TimeWaitLedgerScenario.RunAsync,
            ["kernel-follow"] = KernelFollowScenario.RunAsync,

            // The NAT lab (tests/TuplePool.Tests/Support/NatLab.cs): its server, plain clients, the pool.
            ["nat-server"] = NatServerScenario.RunAsync,
            ["nat-client"] = NatClientScenario.RunAsync,
            ["pool-behind-nat"] = PoolBehindNatScenario.RunAsync,

            // One instance of a fleet sharing the lab's NAT through Redis (tests/TuplePool.Tests/Nat/FleetBehindNatTests.cs).
            ["pool-in-fleet"] = PoolInFleetScenario.RunAsync,

            // The source-prefix lab (tests/TuplePool.Tests/Sources/SourcePrefixNetnsTests.cs).
            ["prefix-server"] = SourcePrefixScenario.RunServerAsync,
            ["source-prefix"] = SourcePrefixScenario.RunClientAsync,
        };

        // The fault scenarios report named checks rather than figures (Faults/).
        foreach (var (name, run) in FaultScenarios.All)
        {
            all.Add(name, run);
        }

        return all;
    }
}
