using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Faults;

/// <summary>
/// Faults on real sockets, each in a network namespace the test creates and removes: a fault
/// scenario of the namespace runner (tests/TuplePool.NetnsRunner/Faults) does the work inside it
/// and reports named checks, which are asserted here.
/// </summary>
[Collection(nameof(NetworkFaultTests))] // one namespace scenario at a time: they time kernel timers
public sealed class NetworkFaultTests
{
    // Checks that find defects still open in other parts of issue 9; each names where it is fixed.
    // A run that fails only these is skipped with the list, so the lead sees them; remove an entry
    // when its fix lands (the test then passes or fails on it like any other check).
    private static readonly Dictionary<string, string> KnownDefects = new(StringComparer.Ordinal)
    {
    };

    [Fact]
    public void SynDropped_ConnectTimesOutClearly_BudgetReleased_OtherSourceAndAddressTried() => Run("syn-drop");

    [Fact]
    public void IdleConnectionSilentlyDropped_KeepAliveFindsItDead_NeverLent() => Run("idle-drop");

    [Fact]
    public void ResetInMidRequest_CallerSeesIt_SocketNeverLentAgain_LedgerMatchesSs() => Run("rst");

    [Fact]
    public void ServerRestartedUnderLoad_DeadIdleSocketsReplaced_IsReusedTellsTheCaller() => Run("restart");

    [Fact]
    public void SourceAddressRemovedAtRunTime_Quarantined_BackWhenReAdded() => Run("source-removed");

    // The pool runs in a child process of its own with every thread it may need started before
    // the limit is lowered; Faults/FileLimitScenario.cs in the runner says why.
    [Fact]
    public void OpenFileLimitReached_ClearError_NothingLeaked() => Run("fd-limit");

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void TcpTwReuse_LedgerTimeWaitMatchesSsAndTheKernelAgrees(int mode) => Run("tw-reuse", ("mode", mode.ToString(System.Globalization.CultureInfo.InvariantCulture)));

    private static void Run(string scenario, params (string Name, string Value)[] args)
    {
        Assert.SkipWhen(Netns.SkipReason(needNft: true) is not null, Netns.SkipReason(needNft: true) ?? "");
        JsonObject report;
        using (var ns = Netns.Create("fault"))
        {
            ns.WriteHosts("127.0.0.1 tpfault-dual\n::1 tpfault-dual\n"); // a name with two addresses (syn-drop)
            report = ns.RunScenario(scenario, args); // throws when the runner crashed, with its checks so far
        }

        var checks = report["checks"]!.AsArray().Select(c => (Name: (string)c!["name"]!, Ok: (bool)c["ok"]!, Detail: (string?)c["detail"])).ToList();
        Assert.NotEmpty(checks);
        foreach (var check in checks)
        {
            TestContext.Current.TestOutputHelper?.WriteLine($"{(check.Ok ? "ok " : "BAD")} {check.Name}: {check.Detail}");
        }

        var failed = checks.Where(c => !c.Ok).ToList();
        var unexpected = failed.Where(c => !KnownDefects.ContainsKey(c.Name)).ToList();
        Assert.True(unexpected.Count == 0, string.Join("\n", unexpected.Select(c => $"{c.Name}: {c.Detail}")));
        Assert.SkipWhen(failed.Count > 0, "Known open defects found: " + string.Join("; ", failed.Select(c => $"{c.Name} ({KnownDefects[c.Name]}): {c.Detail}")));
    }
}
