using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// The ledger follows the kernel after a close (src/TuplePool/Budget/TupleLedger.cs): in a
/// namespace with <c>tcp_tw_reuse=0</c>, after every way a peer can make our close leave less or
/// more than a TIME_WAIT timer says, the pool's after-close charge per tuple equals what
/// <c>ss</c> shows in FIN-WAIT-1/2, CLOSING, LAST-ACK and TIME-WAIT
/// (tests/TuplePool.NetnsRunner/KernelFollowScenario.cs). Takes about 70 s: a TIME-WAIT timer is
/// only shown wrong about the longer closes once its 60 s are over.
/// </summary>
public sealed class KernelFollowNetnsTests
{
    [Fact]
    public async Task AfterEveryPeerBehaviour_PoolChargesWhatTheKernelKeeps()
    {
        if (Netns.SkipReason(needNft: true) is { } why)
        {
            Assert.Skip(why);
        }

        using var ns = Netns.Create("kf");
        ns.Sysctl("net.ipv4.tcp_tw_reuse", "0");

        var result = await ns.RunScenarioAsync("kernel-follow", ("port", "21004"));

        Assert.Equal("0", (string?)result["tcpTwReuse"]);
        var phases = result["phases"]!.AsArray();
        Assert.Equal(7, phases.Count);
        Assert.All(phases, p => Assert.True(
            (int)p!["pool"]! == (int)p["ss"]! && (int)p["poolActive"]! == 0,
            $"{p["name"]}: pool charged {p["pool"]} after close, ss shows {p["ss"]} ({p["ssStates"]}), {p["poolActive"]} still active"));

        // What the kernel keeps in each case, so a phase that left nothing to compare cannot pass.
        int Kept(string name) => (int)phases.Single(p => (string?)p!["name"] == name)!["ss"]!;
        Assert.Equal(0, Kept("abandoned-response-in-flight")); // reset by the late response: a timer would charge 4 for 60 s
        Assert.Equal(0, Kept("peer-closes-first"));
        Assert.Equal(0, Kept("peer-resets"));
        Assert.Equal(8, Kept("delayed-fin-and-unread-at-3s")); // FIN-WAIT-2 and FIN-WAIT-1
        Assert.Equal(4, Kept("died-silently-at-3s"));
        Assert.Equal(8, Kept("delayed-fin-and-unread-at-62s")); // TIME-WAIT from the late FIN, FIN-WAIT-1: a 60 s timer charges 0
        Assert.Equal(4, Kept("died-silently-at-62s"));
        Assert.Equal(0, (int)result["poolActiveQuick"]!);
        Assert.Equal(0, (int)result["poolActive"]!);
    }
}
