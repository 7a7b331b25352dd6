using System.Diagnostics.CodeAnalysis;

namespace TuplePool.Yarp;

/// <summary>
/// The pool each YARP cluster's connections go through, registered by
/// <c>services.AddReverseProxy().UseTuplePool()</c>: for snapshots, health checks and dashboards
/// of the pools that are not in the container themselves (a cluster's own pool).
/// </summary>
public interface IClusterSocketPools
{
    /// <summary>
    /// The pool of cluster <paramref name="clusterId"/> (compared ignoring case, as YARP compares
    /// cluster ids): its own pool, or the named pool its metadata chose. False when the cluster
    /// has not been set up (yet) or is gone.
    /// </summary>
    /// <param name="clusterId">The cluster's id from the proxy configuration.</param>
    /// <param name="pool">The pool, when found.</param>
    /// <returns>True when the cluster has a pool.</returns>
    bool TryGetPool(string clusterId, [NotNullWhen(true)] out ISocketPool? pool);
}
