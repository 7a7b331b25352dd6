using System.Net;
using TuplePool.Budget;

namespace TuplePool.Tests.Budget;

/// <summary>
/// The refusal names its real cause: <see cref="TupleBudgetExhaustedException.Cause"/>, a headline
/// that says it with the numbers under it, and advice for that cause, judged from the usage and
/// the facts the pool hands over (no pool needed).
/// </summary>
public sealed class TupleBudgetExhaustedExceptionTests
{
    private static readonly IPEndPoint Backend = new(IPAddress.Loopback, 7000);
    private static readonly IPAddress S2 = IPAddress.Parse("127.0.0.2");
    private static readonly IPAddress S3 = IPAddress.Parse("127.0.0.3");
    private static readonly IPAddress NotAssigned = IPAddress.Parse("192.0.2.1");

    private static TupleUsage Tuple(IPAddress source, int capacity, int active = 0, int idle = 0, int timeWait = 0, int external = 0, int externalTimeWait = 0, bool quarantined = false, int closing = 0)
        => new(source, Backend, capacity, active, idle, timeWait, quarantined ? 0 : Math.Max(0, capacity - active - idle - timeWait - closing - external), external, closing, externalTimeWait, quarantined);

    private static TupleBudgetExhaustedException Refusal(RefusalFacts facts, params TupleUsage[] usage) => new(Backend, usage, [], facts);

    [Fact]
    public void AllPortsLeased_IsActiveConnections_NamesTheOldestLeasesNotTheRange()
    {
        // 20 of 20 ports held active by a backend that never answers: the advice is about the
        // leases, not "add source addresses, widen the range, reuse connections".
        var facts = new RefusalFacts
        {
            OpenToDestination = 20,
            OldestLeases = [new LeaseAge("127.0.0.2:40001 -> 127.0.0.1:7000", TimeSpan.FromSeconds(42)), new LeaseAge("127.0.0.2:40002 -> 127.0.0.1:7000", TimeSpan.FromSeconds(41))],
        };

        var error = Refusal(facts, Tuple(S2, capacity: 20, active: 20));

        Assert.Equal(RefusalCause.ActiveConnections, error.Cause);
        Assert.StartsWith("No port is free to 127.0.0.1:7000: all 20 ports on 1 source address are held by this pool's open connections (20 leased out or being opened)", error.Message, StringComparison.Ordinal);
        Assert.Contains("The oldest leases to it were lent 42 s ago (127.0.0.2:40001 -> 127.0.0.1:7000), 41 s ago (127.0.0.2:40002 -> 127.0.0.1:7000).", error.Message, StringComparison.Ordinal);
        Assert.Contains("Dispose each SocketLease", error.Message, StringComparison.Ordinal);
        Assert.Null(error.RetryAfter);
    }

    [Fact]
    public void ConnectionLimitWithPortsFree_IsConnectionLimit_AndDoesNotBlameThePorts()
    {
        // MaxConnectionsPerDestination = 1 and 28,231 ports free: the limit is the cause, not the ports ("add source addresses").
        var facts = new RefusalFacts { OpenToDestination = 1, MaxConnections = 1 };

        var error = Refusal(facts, Tuple(S2, capacity: 28_232, active: 1));

        Assert.Equal(RefusalCause.ConnectionLimit, error.Cause);
        Assert.StartsWith("No connection to 127.0.0.1:7000 could be opened: 1 connection to it is open (leased, idle or being opened) and TuplePoolOptions.MaxConnectionsPerDestination is 1; 28231 ports are still free.", error.Message, StringComparison.Ordinal);
        Assert.Contains("raise TuplePoolOptions.MaxConnectionsPerDestination", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("widen the port range", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RestartWithinSixtySeconds_IsExternalTimeWait_HeadlineAgreesWithTheNumbers()
    {
        // 0 active, 0 idle, 0 TIME_WAIT of the pool's own and the kernel counts the ports held: the
        // headline says what the kernel's count shows, not that every source used its budget.
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 20, external: 20, externalTimeWait: 20), Tuple(S3, capacity: 20, external: 20, externalTimeWait: 18));

        Assert.Equal(RefusalCause.ExternalTimeWait, error.Cause);
        Assert.StartsWith("No port is free to 127.0.0.1:7000: the kernel refused one, and 38 of the 40 ports on 2 source addresses are TIME_WAIT sockets this pool does not own", error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.2: 0 active, 0 idle, 0 TIME_WAIT, 20 held by other sockets (20 in TIME_WAIT) of 20", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("used its tuple budget", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void KernelRefusalWithoutTimeWait_IsHeldByOtherSockets()
    {
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 20, active: 2, external: 18));

        Assert.Equal(RefusalCause.HeldByOtherSockets, error.Cause);
        Assert.StartsWith("No port is free to 127.0.0.1:7000: the kernel refused one, and 18 of the 20 ports on 1 source address are held by sockets this pool does not own", error.Message, StringComparison.Ordinal);
        Assert.Contains("ss -tanp", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OwnTimeWaitTheBiggestHolder_IsTimeWait_WithItsShare()
    {
        var error = Refusal(new RefusalFacts { RetryAfter = TimeSpan.FromSeconds(2.5) }, Tuple(S2, capacity: 20, active: 8, timeWait: 12));

        Assert.Equal(RefusalCause.TimeWait, error.Cause);
        Assert.StartsWith("No port is free to 127.0.0.1:7000: 12 of the 20 ports on 1 source address are in TIME_WAIT after this pool's own graceful closes", error.Message, StringComparison.Ordinal);
        Assert.Contains("Room may come by itself in 2.5 s", error.Message, StringComparison.Ordinal);
        Assert.Equal(TimeSpan.FromSeconds(2.5), error.RetryAfter);
    }

    [Fact]
    public void OwnClosesStillClosingTheBiggestHolder_IsClosingConnections_NotActive()
    {
        // A peer that stopped reading keeps each of our closes in FIN-WAIT: the ports are ours but
        // no lease holds them, so "slow backend or leaked leases" would send the reader astray.
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 20, active: 5, closing: 15));

        Assert.Equal(RefusalCause.ClosingConnections, error.Cause);
        Assert.StartsWith("No port is free to 127.0.0.1:7000: 15 of the 20 ports on 1 source address are held by this pool's closed connections", error.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.2: 5 active, 0 idle, 0 TIME_WAIT, 15 closing, 0 held by other sockets of 20", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheSourceWithRoomQuarantined_IsSourcesQuarantined()
    {
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 20, active: 20), Tuple(NotAssigned, capacity: 20, quarantined: true));

        Assert.Equal(RefusalCause.SourcesQuarantined, error.Cause);
        Assert.StartsWith("No port is free to 127.0.0.1:7000 on the source addresses in use, and 192.0.2.1, with 20 ports free, is quarantined", error.Message, StringComparison.Ordinal);
        Assert.Contains("192.0.2.1 (quarantined): 0 active", error.Message, StringComparison.Ordinal);
        Assert.Contains("`ip address`", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void QuarantinedSourceWithoutRoom_IsNamedBesideTheCause()
    {
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 20, active: 20), Tuple(S3, capacity: 20, active: 20, quarantined: true));

        Assert.Equal(RefusalCause.ActiveConnections, error.Cause);
        Assert.Contains("127.0.0.3 is quarantined (binding failed) and gives no port meanwhile.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WaitLineFull_NamesTheLineAndWhatItWaitsFor()
    {
        var error = Refusal(new RefusalFacts { WaitLineLimit = 3 }, Tuple(S2, capacity: 2, timeWait: 2));

        Assert.Equal(RefusalCause.WaitLineFull, error.Cause);
        Assert.True(error.WaitLineFull);
        Assert.StartsWith("No connection to 127.0.0.1:7000 is free and the wait line is full: 3 callers are already waiting (TuplePoolOptions.MaxPendingAcquires). What they wait for: No port is free to 127.0.0.1:7000: all 2 ports on 1 source address are in TIME_WAIT", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NatWithoutPorts_IsNat()
    {
        var nat = new NatUsage(Backend, capacity: 10, active: 10, holding: 0, remaining: 0, grant: null);

        var error = new TupleBudgetExhaustedException(Backend, [Tuple(S2, capacity: 100, active: 10)], [nat], RefusalFacts.None);

        Assert.Equal(RefusalCause.Nat, error.Cause);
        Assert.True(error.NatIsTheLimit);
        Assert.StartsWith("No port is free to 127.0.0.1:7000 through the NAT on the path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RoomBackWhenTheUsageWasRead_IsUnknown_AndSaysSo()
    {
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 20, active: 19));

        Assert.Equal(RefusalCause.Unknown, error.Cause);
        Assert.StartsWith("No port was free to 127.0.0.1:7000 while the acquire waited; 1 port was free again when the usage was read", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PublicConstructor_JudgesByTheUsageAlone()
    {
        var error = new TupleBudgetExhaustedException(Backend, [Tuple(S2, capacity: 4, timeWait: 4)]);

        Assert.Equal(RefusalCause.TimeWait, error.Cause);
        Assert.Null(error.RetryAfter);
        Assert.False(error.IsBackground);
        Assert.Equal(RefusalCause.Unknown, new TupleBudgetExhaustedException(Backend, []).Cause);
    }

    [Fact]
    public void MarkReceived_ABackgroundRefusal_ReportsItOnce()
    {
        var receipts = new Receipts();
        var error = Refusal(RefusalFacts.None, Tuple(S2, capacity: 2, active: 2));
        error.AwaitReceipt(receipts, ticket: 7);
        Assert.True(error.IsBackground);

        error.MarkReceived();
        error.MarkReceived();

        Assert.False(error.IsBackground);
        Assert.Equal([7L], receipts.Tickets);
    }

    [Fact]
    public void MarkReceived_ARefusalACallerGot_DoesNothing()
        => Refusal(RefusalFacts.None, Tuple(S2, capacity: 2, active: 2)).MarkReceived(); // no receipts to report to: must not throw

    [Fact]
    public void TupleUsage_ExternalTimeWaitAboveExternal_Throws()
        => Assert.Throws<ArgumentOutOfRangeException>(() => new TupleUsage(S2, Backend, 10, 0, 0, 0, 5, external: 5, closing: 0, externalTimeWait: 6, isQuarantined: false));

    private sealed class Receipts : IRefusalReceipts
    {
        public List<long> Tickets { get; } = [];

        public void Received(long ticket) => Tickets.Add(ticket);
    }
}
