using Microsoft.Extensions.Logging;

namespace TuplePool.Yarp;

/// <summary>Source-generated log messages of the YARP integration (category <c>TuplePool.Yarp.ClusterPools</c>).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "YARP cluster '{ClusterId}' opens its connections through a TuplePool of its own.")]
    public static partial void OwnPoolCreated(ILogger logger, string clusterId);

    [LoggerMessage(2, LogLevel.Information, "YARP cluster '{ClusterId}' opens its connections through the TuplePool '{PoolName}'.")]
    public static partial void NamedPoolChosen(ILogger logger, string clusterId, string poolName);

    [LoggerMessage(3, LogLevel.Information, "The TuplePool of YARP cluster '{ClusterId}' is disposed: {Reason}.")]
    public static partial void OwnPoolDisposed(ILogger logger, string clusterId, string reason);
}
