using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// The errors an acquire can end with that are the pool's own (not the kernel's): each says what
/// is true — the usage of every tuple that could have served the caller, read when it gave up —
/// and is counted (in the pool's <see cref="RefusalRecord"/> and its metrics) and logged once per
/// refused caller.
/// </summary>
internal sealed class AcquireErrors(
    RefusalRecord refusals,
    TuplePoolMetrics metrics,
    ILogger logger,
    TimeSpan acquireTimeout)
{
    /// <summary>The refusals counted so far, for snapshots and health checks.</summary>
    public RefusalRecord Refusals => refusals;

    /// <summary>No source had room within AcquireTimeout.</summary>
    public TupleBudgetExhaustedException Exhausted(EndPoint destination, BudgetUsage usage, DestinationMetrics? destinationMetrics = null)
    {
        destination = DestinationKeys.Copy(destination); // the caller gets its own: ours is a key
        var error = new TupleBudgetExhaustedException(destination, usage.Tuples, usage.Nat);
        Report(destination, usage.Describe(), destinationMetrics);
        return error;
    }

    /// <summary>
    /// The caller's own token ended its wait for room — often a timeout of its own shorter than
    /// AcquireTimeout. Still an <see cref="OperationCanceledException"/> for its token, but one
    /// that says the wait was for budget (the usage is its inner
    /// <see cref="TupleBudgetExhaustedException"/>), counted and logged as a refusal.
    /// </summary>
    public OperationCanceledException GaveUpWaiting(EndPoint destination, BudgetUsage usage, CancellationToken cancellationToken, DestinationMetrics? destinationMetrics = null)
    {
        destination = DestinationKeys.Copy(destination);
        var budget = new TupleBudgetExhaustedException(destination, usage.Tuples, usage.Nat);
        Report(destination, $"the caller cancelled its wait; {usage.Describe()}", destinationMetrics);
        return new OperationCanceledException(
            $"The caller's cancellation ended its wait for room to {Show(destination)}: {budget.Message}",
            budget,
            cancellationToken);
    }

    /// <summary>MaxPendingAcquires callers were already waiting: refused without waiting.</summary>
    public TupleBudgetExhaustedException WaitLineFull(EndPoint destination, BudgetUsage usage, int limit, DestinationMetrics? destinationMetrics = null)
    {
        destination = DestinationKeys.Copy(destination);
        var error = new TupleBudgetExhaustedException(destination, usage.Tuples, usage.Nat, limit);
        Report(destination, $"the wait line is full ({limit} callers waiting, TuplePoolOptions.MaxPendingAcquires); {usage.Describe()}", destinationMetrics);
        return error;
    }

    /// <summary>
    /// A configuration error, not exhaustion: the destination's addresses are all of a family no
    /// configured source has, so waiting or more ports cannot help.
    /// </summary>
    public static SocketException NoSourceForFamily(EndPoint destination, IReadOnlyList<IPAddress> addresses)
    {
        var families = addresses.Select(a => a.AddressFamily).Distinct().Select(FamilyName).ToList();
        var wanted = string.Join(" or ", families);
        var resolved = destination is DnsEndPoint ? $" (it resolves only to {string.Join(", ", addresses)})" : string.Empty;
        var other = families.Count == 1 && families[0] == "IPv6" ? "IPv4" : "IPv6";
        return new SocketException(
            (int)SocketError.AddressFamilyNotSupported,
            $"TuplePool: no {wanted} source address is configured for {Show(destination)}{resolved}; TuplePoolOptions.SourceAddresses and SourcePrefixes have only {other} sources. "
            + $"Add an {wanted} source address or prefix, or connect to an {other} address of the destination.");
    }

    private void Report(EndPoint destination, string usage, DestinationMetrics? destinationMetrics)
    {
        refusals.Record();
        if (destinationMetrics is not null)
        {
            destinationMetrics.RecordExhausted();
        }
        else
        {
            var (host, port) = destination switch
            {
                IPEndPoint ip => (ip.Address.ToString(), ip.Port),
                DnsEndPoint name => (name.Host, name.Port),
                _ => (destination.ToString() ?? string.Empty, 0),
            };
            metrics.RecordExhausted(host, port);
        }

        Log.BudgetExhausted(logger, destination, acquireTimeout, usage);
    }

    private static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    private static string Show(EndPoint destination) => destination is DnsEndPoint name ? $"{name.Host}:{name.Port}" : destination.ToString() ?? string.Empty;
}

/// <summary>The usage of the tuples and NAT ledgers that could serve one destination, read when an acquire gave up.</summary>
internal readonly record struct BudgetUsage(IReadOnlyList<TupleUsage> Tuples, IReadOnlyList<NatUsage> Nat)
{
    /// <summary>As the log line and the message show it: the tuples, then the NAT's.</summary>
    public string Describe()
        => Nat.Count == 0
            ? TupleBudgetExhaustedException.Describe(Tuples)
            : $"{TupleBudgetExhaustedException.Describe(Tuples)}; {string.Join("; ", Nat)}";
}
