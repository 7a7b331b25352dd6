using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Options;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>
/// Each configured source prefix (<see cref="TuplePoolOptions.SourcePrefixes"/>): whether this
/// host serves it, by the probe the pool runs at start (<see cref="SourcePrefixProbe"/>: an
/// address of it, picked at random, binds; for IPv6, or a local route in
/// <c>/proc/net/ipv6_route</c> covers it), and how many addresses it lends. The bind is this
/// host's, as for listed sources; the route table is read from the doctor's <c>/proc</c>, so
/// with <c>--proc-root</c> from the captured text.
/// </summary>
internal static class SourcePrefixCheck
{
    /// <param name="facts">The host.</param>
    /// <param name="options">The configured pool.</param>
    /// <param name="failures">
    /// Start-up validation's messages without the serving probe: a prefix it already refuses (too
    /// small, overlapping, multicast, …) gets no line here, its option line says what is wrong,
    /// and a route command for it would be wrong advice.
    /// </param>
    public static IEnumerable<Finding> Run(HostFacts facts, TuplePoolOptions options, IReadOnlyList<string> failures)
    {
        var prefixes = options.SourcePrefixes ?? [];
        for (var i = 0; i < prefixes.Count; i++)
        {
            var network = prefixes[i];
            var refused = F($"SourcePrefixes[{i}]: ");
            if (!PoolPlan.IsCountable(network) || failures.Any(f => f.StartsWith(refused, StringComparison.Ordinal)))
            {
                continue;
            }

            yield return Probe(facts, network);
        }
    }

    /// <summary>The sources line when no address is listed but prefixes are: which families have a source, and that the kernel does not choose.</summary>
    public static Finding SourcesLine(TuplePoolOptions options)
    {
        var prefixes = (options.SourcePrefixes ?? []).Where(PoolPlan.IsCountable).ToList();
        var families = prefixes.Select(static p => p.BaseAddress.AddressFamily).Distinct().Order().ToList();
        var names = string.Join(" and ", families.Select(FamilyName));
        var missing = families.Count == 1 ? FamilyName(families[0] == AddressFamily.InterNetwork ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork) : null;
        var summary = F($"none listed: new connections take their source from the {names} source {(prefixes.Count == 1 ? "prefix" : "prefixes")} below, not from the kernel");
        return missing is null
            ? new Finding("sources", Verdict.Ok, summary)
            : new Finding("sources", Verdict.Ok, summary + F($"; {missing} destinations have no source"), F($"An acquire to an {missing} destination fails at once (no source address or prefix of its family); add an {missing} prefix or address if the service talks to any."));
    }

    private static Finding Probe(HostFacts facts, IPNetwork network)
    {
        var family = network.BaseAddress.AddressFamily;
        var usable = PrefixAddresses.UsableCount(network);
        var hostBits = (family == AddressFamily.InterNetworkV6 ? 128 : 32) - network.PrefixLength;
        var problem = SourcePrefixProbe.Check(network, SourceAddressProbe.TryBind, facts.Tree);
        var data = new JsonObject
        {
            ["prefix"] = network.ToString(),
            ["family"] = FamilyName(family),
            ["hostBits"] = hostBits,
            ["addresses"] = usable.ToString(CultureInfo.InvariantCulture),
            ["served"] = problem is null,
        };
        var route = family == AddressFamily.InterNetworkV6 ? "ip -6 route" : "ip route";
        if (problem is null)
        {
            var how = family == AddressFamily.InterNetworkV6 && LocalRoutes.CoversIPv6(network, facts.Tree) == true
                ? F($"a local route in {LocalRoutes.Ipv6RouteFile} covers it")
                : "an address of it, picked at random, binds";
            return new Finding(
                "source prefix",
                Verdict.Ok,
                F($"{network}: served by this host ({how}); {Count(usable)} addresses"),
                "Each new connection takes another address of it. For destinations off this host, the network must also route the prefix here (on a LAN: a route via this host's address).",
                data);
        }

        var cannotTell = problem.StartsWith("cannot be checked", StringComparison.Ordinal);
        data["served"] = cannotTell ? null : false;
        var fix = F($"Serve it on this host with `{route} add local {network} dev lo` (AnyIP), and route it here on the network.");
        if (family == AddressFamily.InterNetworkV6)
        {
            // IP_FREEBIND is what lets the pool bind a prefix address at all (an IPv6 bind takes
            // assigned addresses only), so it is set already; it does not make the host accept the answers.
            fix += " The pool binds IPv6 prefix addresses with IP_FREEBIND itself: that lets the bind succeed, not the answers reach a socket here, so without the route each connection from the prefix times out.";
        }

        return cannotTell
            ? new Finding("source prefix", facts.Tree.IsLive ? Verdict.Fail : Verdict.Warn, F($"{network} {problem}"), (facts.Tree.IsLive ? "The pool refuses to start with a prefix it cannot check (start-up validation). " : F($"On the host the text came from, the pool reads its own {LocalRoutes.Ipv6RouteFile}. ")) + fix, data)
            : new Finding("source prefix", Verdict.Fail, F($"{network} {problem}"), "The pool refuses to start with it (start-up validation). " + fix, data);
    }

    /// <summary>An address count: exact up to a trillion, else as a power of two (an IPv6 /64 lends 2^64 - 1).</summary>
    public static string Count(UInt128 count)
        => count <= 1_000_000_000_000 ? N((long)count) : F($"about 2^{Math.Round(Math.Log2((double)count))}");

    private static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";
}
