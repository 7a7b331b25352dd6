using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// the pool's TIME_WAIT charge against <c>ss</c> after every kind of close, in a
/// namespace with <c>tcp_tw_reuse=0</c> so each TIME_WAIT is real and lasts 60 s. HttpClient
/// through UseTuplePool (disposed; idle-expired with its read-ahead pending; server closing
/// first; server resetting) and raw leases (idle; read pending; reset read by the caller;
/// server first; half-closed; bytes unread) — each phase, and the total, equal.
/// </summary>
public sealed class TimeWaitLedgerNetnsTests
{
    [Fact]
    public async Task EveryKindOfClose_PoolTimeWaitEqualsTheKernels()
    {
        if (Netns.SkipReason() is { } why)
        {
            Assert.Skip(why);
        }

        using var ns = Netns.Create("tw");
        ns.Sysctl("net.ipv4.tcp_tw_reuse", "0");

        var result = await ns.RunScenarioAsync("time-wait-ledger", ("port", "21002"));

        Assert.Equal("0", (string?)result["tcpTwReuse"]);
        var phases = result["phases"]!.AsArray();
        Assert.Equal(10, phases.Count);
        Assert.All(phases, p => Assert.True(
            (int)p!["poolTimeWait"]! == (int)p["ssTimeWait"]! && (int)p["activeAfter"]! == 0,
            $"{p["name"]}: pool charged {p["poolTimeWait"]} TIME_WAIT, ss shows {p["ssTimeWait"]}, {p["activeAfter"]} still active"));
        Assert.Equal((int)result["ssTimeWait"]!, (int)result["poolTimeWait"]!);

        // The closes whose charge is easy to get wrong (a read pending, a reset the caller read),
        // pinned to what the kernel does there.
        JsonNode Phase(string name) => phases.Single(p => (string?)p!["name"] == name)!;
        int Charged(string name) => (int)Phase(name)["poolTimeWait"]!;
        var idleExpired = (int)Phase("http-idle-expired-read-pending")["connections"]!;
        Assert.True(idleExpired > 0);
        Assert.Equal(idleExpired, Charged("http-idle-expired-read-pending")); // graceful despite the pending read
        Assert.Equal(0, Charged("http-server-resets"));
        Assert.Equal(1, Charged("raw-read-pending"));
        Assert.Equal(0, Charged("raw-reset-read-by-caller"));
        Assert.Equal("ConnectionReset", (string?)result["resetSeenByCaller"]);
        Assert.Equal(1, Charged("raw-half-closed-peer-fin-in"));
        Assert.Equal(0, Charged("raw-bytes-unread"));
    }
}
