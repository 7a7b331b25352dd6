using TuplePool.Tests.Support;
using static TuplePool.Tests.Nat.PoolBehindNat;

namespace TuplePool.Tests.Nat;

/// <summary>
/// The pool behind the NAT lab's 10-port masquerade (runner scenario <c>pool-behind-nat</c>) with
/// <see cref="TuplePoolOptions.Nat"/> set to the lab's figures: more acquires than the NAT has
/// ports end in typed waits (<see cref="TupleBudgetExhaustedException"/>) instead of SYNs the NAT
/// drops, and a wait is served once a close's port has come back after the hold. Without the NAT
/// ledger the pool opens past the NAT's ports and the extra connects time out, which this test
/// reports as SYN timeouts (NatLabTests shows the NAT itself).
/// </summary>
public sealed class PoolBehindNatTests
{
    [Fact]
    public async Task MoreAcquiresThanNatPorts_TypedWaitsInsteadOfSynTimeouts_WaitersServedAsPortsFree()
    {
        using var lab = CreateLab(clients: 1);
        await lab.StartServerAsync(Port);

        // 14 acquires of a NAT with 10 ports: 10 connect, 4 wait; 2 closes serve 2 of them after the hold.
        var result = await lab.RunInClientAsync(0, "pool-behind-nat", Args(lab, natPorts: 10, open: 14, close: 2));

        AssertOutcomes(result, connected: 10, served: 2, budgetExhausted: 2);
        Assert.Equal(10, (int)result["held"]!);
        Assert.Equal(10, (int)result["echoed"]!);
    }
}
