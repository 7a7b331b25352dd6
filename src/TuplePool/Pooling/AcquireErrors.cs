using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TuplePool.Budget;
using TuplePool.Internal;
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
    TimeSpan acquireTimeout,
    TimeProvider timeProvider)
{
    private readonly long _logIntervalTicks = Timestamps.ToTicks(EventThrottle.Interval, timeProvider);
    private readonly KeyedEventThrottle<EndPoint> _refusalLog = new(); // log event 4, per destination

    /// <summary>The refusals counted so far, for snapshots and health checks.</summary>
    public RefusalRecord Refusals => refusals;

    /// <summary>No source had room within AcquireTimeout.</summary>
    public TupleBudgetExhaustedException Exhausted(EndPoint destination, BudgetUsage usage, RefusalFacts facts, AcquirePurpose purpose, DestinationMetrics? destinationMetrics = null)
    {
        destination = DestinationKeys.Copy(destination); // the caller gets its own: ours is a key
        var error = new TupleBudgetExhaustedException(destination, usage.Tuples, usage.Nat, facts);
        Report(error, purpose, destination, error.Message, destinationMetrics);
        return error;
    }

    /// <summary>
    /// The caller's own token ended its wait for room — often a timeout of its own shorter than
    /// AcquireTimeout. Still an <see cref="OperationCanceledException"/> for its token, but one
    /// that says the wait was for budget (the usage is its inner
    /// <see cref="TupleBudgetExhaustedException"/>), counted and logged as a refusal.
    /// </summary>
    public OperationCanceledException GaveUpWaiting(EndPoint destination, BudgetUsage usage, RefusalFacts facts, AcquirePurpose purpose, CancellationToken cancellationToken, DestinationMetrics? destinationMetrics = null)
    {
        destination = DestinationKeys.Copy(destination);
        var budget = new TupleBudgetExhaustedException(destination, usage.Tuples, usage.Nat, facts);
        Report(budget, purpose, destination, $"the caller cancelled its wait; {budget.Message}", destinationMetrics);
        return new OperationCanceledException(
            $"The caller's cancellation ended its wait for room to {Show(destination)}: {budget.Message}",
            budget,
            cancellationToken);
    }

    /// <summary>MaxPendingAcquires callers were already waiting: refused without waiting.</summary>
    public TupleBudgetExhaustedException WaitLineFull(EndPoint destination, BudgetUsage usage, RefusalFacts facts, int limit, AcquirePurpose purpose, DestinationMetrics? destinationMetrics = null)
    {
        destination = DestinationKeys.Copy(destination);
        var error = new TupleBudgetExhaustedException(destination, usage.Tuples, usage.Nat, facts with { WaitLineLimit = limit });
        Report(error, purpose, destination, error.Message, destinationMetrics);
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

    /// <summary>
    /// Counts the refusal — as one a caller received, or, met in a SocketsHttpHandler connection
    /// attempt, as a background one until a caller is reported to receive it — and logs it
    /// (event 4, throttled per destination).
    /// </summary>
    private void Report(TupleBudgetExhaustedException error, AcquirePurpose purpose, EndPoint destination, string refusal, DestinationMetrics? destinationMetrics)
    {
        if (purpose == AcquirePurpose.HttpConnect)
        {
            error.AwaitReceipt(refusals, refusals.RecordBackground());
        }
        else
        {
            refusals.Record();
        }

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

        var suppressed = 0;
        if (logger.IsEnabled(LogLevel.Error) && _refusalLog.TryPass(destination, timeProvider.GetTimestamp(), _logIntervalTicks, out suppressed))
        {
            Log.BudgetExhausted(logger, destination, error.Cause, acquireTimeout, refusal, suppressed);
        }
    }

    private static string FamilyName(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? "IPv6" : "IPv4";

    private static string Show(EndPoint destination) => destination is DnsEndPoint name ? $"{name.Host}:{name.Port}" : destination.ToString() ?? string.Empty;
}

/// <summary>Who waits for an acquire's lease, and so who sees its refusal.</summary>
internal enum AcquirePurpose
{
    /// <summary>A caller of <c>AcquireAsync</c>: it receives the refusal.</summary>
    Caller,

    /// <summary>
    /// A connection attempt of <c>SocketsHttpHandler</c> (the <c>UseTuplePool</c> callback): its
    /// refusal reaches a request only if the one that started the attempt still waits for it.
    /// </summary>
    HttpConnect,
}

/// <summary>The usage of the tuples and NAT ledgers that could serve one destination, read when an acquire gave up.</summary>
internal readonly record struct BudgetUsage(IReadOnlyList<TupleUsage> Tuples, IReadOnlyList<NatUsage> Nat);
