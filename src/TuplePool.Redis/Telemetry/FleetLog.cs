using System.Net;
using Microsoft.Extensions.Logging;

namespace TuplePool.Redis.Telemetry;

/// <summary>Source-generated log messages of the fleet budget; the event ids are stable (101–107) and listed in the package README.</summary>
internal static partial class FleetLog
{
    [LoggerMessage(101, LogLevel.Warning, "Fleet {Fleet}: Redis is unreachable ({Error}). Grants are kept until their leases end (at most {LeaseTime}), then each destination falls back to this instance's static share of {StaticShare} ports.")]
    public static partial void RedisUnreachable(ILogger logger, string fleet, string error, TimeSpan leaseTime, int staticShare);

    [LoggerMessage(102, LogLevel.Warning, "Fleet {Fleet}: {Count} grant(s) ended without renewal; those destinations fall back to the static share of {StaticShare} ports (e.g. {Destination}, where {HeldBeyond} ports are held beyond it and nothing new opens until they close).")]
    public static partial void LeasesEnded(ILogger logger, string fleet, int count, int staticShare, IPEndPoint destination, int heldBeyond);

    [LoggerMessage(103, LogLevel.Information, "Fleet {Fleet}: Redis answers again after {Outage}; re-asserting {Count} grant(s).")]
    public static partial void RedisRestored(ILogger logger, string fleet, TimeSpan outage, int count);

    [LoggerMessage(104, LogLevel.Warning, "Fleet {Fleet}: Redis lost the fleet's keys of bucket {Bucket} (restarted empty, flushed, or failed over to a replica that lagged). Grants are re-asserted; nothing new is granted for {Window}.")]
    public static partial void KeysLost(ILogger logger, string fleet, int bucket, TimeSpan window);

    [LoggerMessage(105, LogLevel.Error, "Fleet {Fleet}: Redis records a capacity of {FleetCapacity} ports with {FleetReserved} reserved for static shares, this instance {Capacity} and {Reserved}; it keeps to its static share of {StaticShare}. Give every instance the same Nat.PortsPerDestination, ExpectedInstances and StaticShareFraction.")]
    public static partial void Misconfigured(ILogger logger, string fleet, string fleetCapacity, string fleetReserved, int capacity, int reserved, int staticShare);

    [LoggerMessage(106, LogLevel.Information, "Fleet {Fleet}: instance {Instance} attached: {Capacity} ports per destination, static share {StaticShare} (reserved {Reserved}), {Coordinated} through Redis in chunks of {Chunk}, lease {LeaseTime}, recovery window {RecoveryWindow}.")]
    public static partial void Attached(ILogger logger, string fleet, string instance, int capacity, int staticShare, int reserved, int coordinated, int chunk, TimeSpan leaseTime, TimeSpan recoveryWindow);

    [LoggerMessage(107, LogLevel.Warning, "The pool's grantChanged callback threw for {Destination}; the budget carries on.")]
    public static partial void CallbackFailed(ILogger logger, IPEndPoint destination, Exception exception);
}
