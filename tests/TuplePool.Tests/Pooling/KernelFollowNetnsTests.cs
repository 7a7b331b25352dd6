using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// The ledger follows the kernel after a close (src/TuplePool/Budget/TupleLedger.cs): in a
/// namespace with <c>tcp_tw_reuse=0</c>, after every way a peer can make our close leave less or
/// more than a TIME_WAIT timer says, the pool's after-close charge per tuple equals what
/// <c>ss</c> shows in FIN-WAIT-1/2, CLOSING, LAST-ACK and TIME-WAIT
/// (tests/TuplePool.NetnsRunner/KernelFollowScenario.cs). The second test takes about 70 s: a
/// TIME-WAIT timer is only shown wrong about the longer closes once its 60 s are over.
/// </summary>
public sealed class KernelFollowNetnsTests
{
    /// <summary>Set (or <c>CI</c>) to run the look 62 s after the close, which takes the suite past a minute.</summary>
    private const string LateLookVariable = "TUPLEPOOL_LATE_LOOK";

    [Fact]
    public async Task AfterEveryPeerBehaviour_PoolChargesWhatTheKernelKeeps()
    {
        var result = await RunAsync(lateLook: false);

        var phases = result["phases"]!.AsArray();
        Assert.Equal(5, phases.Count);
        AssertEqualToTheKernel(phases);
        Assert.Equal(0, Kept(phases, "abandoned-response-in-flight")); // reset by the late response: a timer would charge 4 for 60 s
        Assert.Equal(0, Kept(phases, "peer-closes-first"));
        Assert.Equal(0, Kept(phases, "peer-resets"));
        Assert.Equal(8, Kept(phases, "delayed-fin-and-unread-at-3s")); // FIN-WAIT-2 and FIN-WAIT-1
        Assert.Equal(4, Kept(phases, "died-silently-at-3s"));
    }

    [Fact]
    public async Task SixtyTwoSecondsAfterTheClose_PoolStillChargesWhatTheKernelKeeps()
    {
        Assert.SkipUnless(
            Environment.GetEnvironmentVariable("CI") is { Length: > 0 } || Environment.GetEnvironmentVariable(LateLookVariable) is { Length: > 0 },
            $"Waits 62 s for a 60 s TIME-WAIT timer to run out; runs in CI (CI set) or with {LateLookVariable}=1.");

        var result = await RunAsync(lateLook: true);

        var phases = result["phases"]!.AsArray();
        Assert.Equal(7, phases.Count);
        AssertEqualToTheKernel(phases);
        Assert.Equal(8, Kept(phases, "delayed-fin-and-unread-at-62s")); // TIME-WAIT from the late FIN, FIN-WAIT-1: a 60 s timer charges 0
        Assert.Equal(4, Kept(phases, "died-silently-at-62s"));
    }

    private static async Task<JsonObject> RunAsync(bool lateLook)
    {
        if (Netns.SkipReason(needNft: true) is { } why)
        {
            Assert.Skip(why);
        }

        using var ns = Netns.Create("kf");
        ns.Sysctl("net.ipv4.tcp_tw_reuse", "0");
        var result = await ns.RunScenarioAsync("kernel-follow", ("port", lateLook ? "21006" : "21004"), ("late-look", lateLook ? "1" : "0"));
        Assert.Equal("0", (string?)result["tcpTwReuse"]);
        Assert.Equal(0, (int)result["poolActiveQuick"]!);
        Assert.Equal(0, (int)result["poolActive"]!);
        return result;
    }

    private static void AssertEqualToTheKernel(JsonArray phases)
        => Assert.All(phases, p => Assert.True(
            (int)p!["pool"]! == (int)p["ss"]! && (int)p["poolActive"]! == 0,
            $"{p["name"]}: pool charged {p["pool"]} after close, ss shows {p["ss"]} ({p["ssStates"]}), {p["poolActive"]} still active"));

    /// <summary>What the kernel keeps in a phase, so a phase that left nothing to compare cannot pass.</summary>
    private static int Kept(JsonArray phases, string name) => (int)phases.Single(p => (string?)p!["name"] == name)!["ss"]!;
}
