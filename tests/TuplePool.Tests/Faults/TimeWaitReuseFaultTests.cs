namespace TuplePool.Tests.Faults;

/// <summary>What the ledger charges after graceful closes, against the kernel, for each <c>tcp_tw_reuse</c> mode (<see cref="FaultScenario"/>).</summary>
public sealed class TimeWaitReuseFaultTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public Task TcpTwReuse_LedgerTimeWaitMatchesSsAndTheKernelAgrees(int mode) => FaultScenario.RunAsync("tw-reuse", ("mode", mode.ToString(System.Globalization.CultureInfo.InvariantCulture)));
}
