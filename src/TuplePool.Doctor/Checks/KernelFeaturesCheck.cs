using System.Text.Json.Nodes;
using TuplePool.Doctor.Host;
using TuplePool.Doctor.Report;
using TuplePool.Platform;
using static TuplePool.Doctor.Invariant;

namespace TuplePool.Doctor.Checks;

/// <summary>The kernel version against the socket options TuplePool uses.</summary>
internal static class KernelFeaturesCheck
{
    public static IEnumerable<Finding> Run(HostFacts facts, TuplePoolOptions? configured)
    {
        var kernel = facts.Kernel;
        var version = kernel.KernelVersion;
        if (version is null)
        {
            yield return new Finding("kernel", Verdict.Warn, "version unknown", PortRangeCheck.FallbackText(kernel, KernelSettings.OsReleasePath) + " The pool then uses none of the newer socket options.");
        }
        else
        {
            yield return new Finding("kernel", Verdict.Ok, F($"Linux {version}"), null, new JsonObject { ["version"] = version.ToString() });
        }

        var explicitSources = configured is { SourceAddresses.Count: > 0 };
        yield return kernel.SupportsBindAddressNoPort
            ? new Finding("IP_BIND_ADDRESS_NO_PORT", Verdict.Ok, "available (Linux >= 4.2)", "With a source address bound, the port is chosen at connect(): each (source, destination, port) gets the whole range.")
            : new Finding(
                "IP_BIND_ADDRESS_NO_PORT",
                explicitSources ? Verdict.Fail : Verdict.Warn,
                "not available (needs Linux 4.2)",
                "bind(source, 0) then picks the port at bind time, unique per source for all destinations: the budget collapses to one range per source address (EADDRINUSE at bind)." + (explicitSources ? " The configuration binds source addresses." : " It matters once SourceAddresses are configured."));

        var slice = configured?.LocalPortRange is not null;
        yield return kernel.SupportsLocalPortRange
            ? new Finding("IP_LOCAL_PORT_RANGE", Verdict.Ok, "available (Linux >= 6.3)", "A pool can keep to its own slice of the range (LocalPortRange).")
            : new Finding(
                "IP_LOCAL_PORT_RANGE",
                slice ? Verdict.Warn : Verdict.Ok,
                "not available (needs Linux 6.3)",
                slice ? "The configured LocalPortRange is counted by the budget but not enforced: sockets take ports from the whole system range." : "Pools use the whole system range; LocalPortRange would not be enforced.");

        yield return kernel.LocalPortRangeDisablesParitySearch
            ? new Finding("crowded connect", Verdict.Ok, "fast (Linux >= 6.8)", "Setting IP_LOCAL_PORT_RANGE turns off the even/odd port search: measured at 16,000 connections to one destination, ~40 us per connect() instead of ~745 us.")
            : new Finding("crowded connect", Verdict.Warn, "slow before Linux 6.8", "connect() to a tuple with thousands of connections searches ports one by one (measured ~745 us per connect at 16,000 open connections, ~40 us on 6.8 with IP_LOCAL_PORT_RANGE).");
    }
}
