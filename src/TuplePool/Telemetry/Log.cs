using System.Net;
using Microsoft.Extensions.Logging;

namespace TuplePool.Telemetry;

/// <summary>Source-generated log messages; the event ids are stable and documented in the README.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "Source address {Source} cannot be bound ({Error}); it is left out of new connections for {Quarantine}.")]
    public static partial void SourceQuarantined(ILogger logger, IPAddress source, string error, TimeSpan quarantine);

    [LoggerMessage(2, LogLevel.Information, "Source address {Source} is back in use for new connections.")]
    public static partial void SourceRestored(ILogger logger, IPAddress source);

    // Events 3 and 4 are throttled (EventThrottle, at most one per tuple or destination every 5 s):
    // Suppressed counts the ones held back since the previous line.
    [LoggerMessage(3, LogLevel.Warning, "Tuple {Source} -> {Destination} is above 90% of its port budget: {Used} of {Capacity} ports in use, in TIME_WAIT or held by other sockets. Add source addresses, widen the port range or reuse connections. ({Suppressed} more crossings of this tuple not logged since the previous line.)")]
    public static partial void TupleNearlyExhausted(ILogger logger, IPAddress source, IPEndPoint destination, int used, int capacity, int suppressed);

    [LoggerMessage(4, LogLevel.Error, "Acquire to {Destination} refused ({Cause}, AcquireTimeout {AcquireTimeout}): {Refusal} ({Suppressed} more refusals to this destination not logged since the previous line.)")]
    public static partial void BudgetExhausted(ILogger logger, EndPoint destination, RefusalCause cause, TimeSpan acquireTimeout, string refusal, int suppressed);

    [LoggerMessage(5, LogLevel.Warning, "Kernel setting not read, default used: {Fallback}")]
    public static partial void KernelFallback(ILogger logger, string fallback);

    [LoggerMessage(6, LogLevel.Information, "The kernel refused a port for {Source} -> {Destination} (EADDRNOTAVAIL): it counts {KernelCount} sockets on the tuple in the pool's port range, the pool {PoolCount}. The tuple is treated as full for {Hold}; trying another source.")]
    public static partial void KernelCorrection(ILogger logger, IPAddress source, IPEndPoint destination, int kernelCount, int poolCount, TimeSpan hold);

    [LoggerMessage(7, LogLevel.Information, "TuplePool started: port range {Range} ({Capacity} ports per tuple), sources [{Sources}], tcp_tw_reuse {TwReuse}, kernel {Kernel}, IP_LOCAL_PORT_RANGE per socket {SocketRange}.")]
    public static partial void PoolStarted(ILogger logger, PortRange range, int capacity, string sources, int twReuse, string kernel, string socketRange);

    [LoggerMessage(8, LogLevel.Warning, "DNS lookup of {Host} failed ({Error}); using the {Count} addresses from the previous lookup.")]
    public static partial void DnsStale(ILogger logger, string host, string error, int count);
}
