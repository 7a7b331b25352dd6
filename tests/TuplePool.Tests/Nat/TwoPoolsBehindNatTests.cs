using static TuplePool.Tests.Nat.PoolBehindNat;

namespace TuplePool.Tests.Nat;

/// <summary>
/// Two hosts behind the NAT lab's 10-port masquerade, each running the pool (runner scenario
/// <c>pool-behind-nat</c>) with <see cref="NatOptions.PortsPerDestination"/> = 5, half the NAT:
/// together they never exceed it, so neither sees a SYN the NAT dropped; each host's extra
/// acquires wait (typed) and one is served after its own close's hold. Without the NAT ledger the
/// host that acquires last meets a full NAT and its connects time out.
/// </summary>
public sealed class TwoPoolsBehindNatTests
{
    [Fact]
    public async Task EachPoolWithHalfTheNat_TogetherNeverPastIt_TypedWaitsInsteadOfSynTimeouts()
    {
        using var lab = CreateLab(clients: 2);
        await lab.StartServerAsync(Port);

        // Both at once, 7 acquires each. Each keeps its leases after its report until both have
        // reported, so whichever acquires last meets the other's connections still open.
        (string, string)[] args = [.. Args(lab, natPorts: 5, open: 7, close: 1), ("hold-leases", "1")];
        var pools = new[] { lab.StartInClient(0, "pool-behind-nat", args), lab.StartInClient(1, "pool-behind-nat", args) };
        var results = await Task.WhenAll(pools.Select(p => p.ReadAsync(TimeSpan.FromMinutes(1))));
        await Task.WhenAll(pools.Select(p => p.StopAsync(TimeSpan.FromSeconds(30))));

        Assert.All(results, result => AssertOutcomes(result, connected: 5, served: 1, budgetExhausted: 1));
        Assert.All(results, result => Assert.Equal(5, (int)result["echoed"]!));
    }
}
