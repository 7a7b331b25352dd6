namespace TuplePool.Tests.Faults;

/// <summary>
/// Faults on the way to a connection, each in a network namespace the test creates and removes
/// (<see cref="FaultScenario"/>).
/// </summary>
public sealed class NetworkFaultTests
{
    [Fact]
    public Task SynDropped_ConnectTimesOutClearly_BudgetReleased_OtherSourceAndAddressTried() => FaultScenario.RunAsync("syn-drop");

    [Fact]
    public Task SourceAddressRemovedAtRunTime_Quarantined_BackWhenReAdded() => FaultScenario.RunAsync("source-removed");

    // The pool runs in a child process of its own with every thread it may need started before
    // the limit is lowered; Faults/FileLimitScenario.cs in the runner says why.
    [Fact]
    public Task OpenFileLimitReached_ClearError_NothingLeaked() => FaultScenario.RunAsync("fd-limit");
}
