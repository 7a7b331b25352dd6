using System.Globalization;
using System.Text.Json.Nodes;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Nat;

/// <summary>
/// The NAT lab the pool tests share (a 10-port masquerade, holds of 3 s after a FIN and 1 s after
/// an RST), the arguments of runner scenario <c>pool-behind-nat</c>, and what its report must say.
/// </summary>
internal static class PoolBehindNat
{
    public const int Port = 21110;
    public static readonly PortRange NatPorts = new(40000, 40009);
    public static readonly TimeSpan HoldAfterClose = TimeSpan.FromSeconds(3);
    public static readonly TimeSpan HoldAfterReset = TimeSpan.FromSeconds(1);

    // Covers one dropped SYN and its retry after 1 s; the wait for room outlasts the hold.
    private const int ConnectTimeoutMs = 2000;
    private const int AcquireTimeoutMs = 8000;

    public static NatLab CreateLab(int clients)
    {
        Assert.SkipWhen(NatLab.SkipReason() is not null, NatLab.SkipReason() ?? "");
        return NatLab.Create(clients, NatPorts, HoldAfterClose, HoldAfterReset);
    }

    /// <summary>The pool's Nat options are the lab's own figures: its port range's size or a share of it, and conntrack's holds.</summary>
    public static (string, string)[] Args(NatLab lab, int natPorts, int open, int close) =>
    [
        ("host", NatLab.ServerAddress.ToString()),
        ("port", Text(Port)),
        ("nat-ports", Text(natPorts)),
        ("hold-after-close-ms", Text((int)lab.HoldAfterClose.TotalMilliseconds)),
        ("hold-after-reset-ms", Text((int)lab.HoldAfterReset.TotalMilliseconds)),
        ("open", Text(open)),
        ("close", Text(close)),
        ("connect-timeout-ms", Text(ConnectTimeoutMs)),
        ("acquire-timeout-ms", Text(AcquireTimeoutMs)),
    ];

    public static void AssertOutcomes(JsonObject result, int connected, int served, int budgetExhausted)
    {
        var text = result.ToJsonString();
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        var outcomes = result["outcomes"]!.AsObject();
        int Count(string kind) => (int)outcomes[kind]!;

        // First the NAT's own failure: a SYN it dropped means the pool opened past its ports.
        Assert.True(Count("synTimeout") == 0, $"{Count("synTimeout")} connects timed out at the NAT (the pool opened past its {NatPorts.Count} ports): {text}");
        Assert.True(result["other"]!.AsArray().Count == 0, text);
        Assert.True(Count("connected") == connected, $"expected {connected} connected at once: {text}");
        Assert.True(Count("servedAfterClose") == served, $"expected {served} waits served after the closes: {text}");
        Assert.True(Count("budgetExhausted") == budgetExhausted, $"expected {budgetExhausted} typed waits that ran out: {text}");

        // A wait was served by a port the closes gave back, so not before the NAT's hold was over
        // (a port reused at once may meet its old mapping and the SYN be dropped).
        var closedAt = (double)result["closedAtMs"]!;
        Assert.All(
            result["acquires"]!.AsArray().Where(a => (string?)a!["outcome"] == "servedAfterClose"),
            a => Assert.True((double)a!["endedMs"]! >= closedAt + (HoldAfterClose.TotalMilliseconds * 0.9), $"served {(double)a["endedMs"]! - closedAt} ms after the closes: {text}"));
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
