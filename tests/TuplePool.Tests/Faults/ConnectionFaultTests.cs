namespace TuplePool.Tests.Faults;

/// <summary>Faults on established connections, idle or in use (<see cref="FaultScenario"/>).</summary>
public sealed class ConnectionFaultTests
{
    [Fact]
    public Task IdleConnectionSilentlyDropped_KeepAliveFindsItDead_NeverLent() => FaultScenario.RunAsync("idle-drop");

    [Fact]
    public Task ResetInMidRequest_CallerSeesIt_SocketNeverLentAgain_LedgerMatchesSs() => FaultScenario.RunAsync("rst");

    [Fact]
    public Task ServerRestartedUnderLoad_DeadIdleSocketsReplaced_IsReusedTellsTheCaller() => FaultScenario.RunAsync("restart");
}
