using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Faults;

/// <summary>
/// Runs one fault scenario of the namespace runner (tests/TuplePool.NetnsRunner/Faults) in a
/// network namespace of its own and asserts every named check it reports. The scenarios are
/// spread over three test classes by what they break (connect, established connections,
/// TIME_WAIT reuse), so xunit runs the classes side by side: each has its own namespace, and no
/// check times anything tighter than seconds.
/// </summary>
internal static class FaultScenario
{
    public static async Task RunAsync(string scenario, params (string Name, string Value)[] args)
    {
        Assert.SkipWhen(Netns.SkipReason(needNft: true) is not null, Netns.SkipReason(needNft: true) ?? "");
        JsonObject report;
        using (var ns = Netns.Create("fault"))
        {
            ns.WriteHosts("127.0.0.1 tpfault-dual\n::1 tpfault-dual\n"); // a name with two addresses (syn-drop)
            report = await ns.RunScenarioAsync(scenario, args); // throws when the runner crashed, with its checks so far
        }

        var checks = report["checks"]!.AsArray().Select(c => (Name: (string)c!["name"]!, Ok: (bool)c["ok"]!, Detail: (string?)c["detail"])).ToList();
        Assert.NotEmpty(checks);
        foreach (var check in checks)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{(check.Ok ? "ok " : "BAD")} {check.Name}: {check.Detail}");
        }

        var failed = checks.Where(c => !c.Ok).ToList();
        Assert.True(failed.Count == 0, string.Join("\n", failed.Select(c => $"{c.Name}: {c.Detail}")));
    }
}
