namespace TuplePool.Yarp;

/// <summary>
/// The YARP metadata keys TuplePool reads: set them under a cluster's or a route's
/// <c>"Metadata"</c> in the proxy configuration.
/// </summary>
public static class TuplePoolProxyMetadata
{
    /// <summary>
    /// Cluster metadata: the name of a pool registered with <c>services.AddTuplePool("name", ...)</c>
    /// that the cluster's connections are opened through (e.g. one with its own source addresses,
    /// shared by several clusters). Without it the cluster gets a pool of its own, built from the
    /// default pool's options. A name no pool was registered under fails the configuration.
    /// </summary>
    public const string Pool = "TuplePool.Pool";

    /// <summary>
    /// Route metadata, <c>"true"</c> or <c>"false"</c>: whether a request the pool refused for an
    /// exhausted budget is answered with 503 Service Unavailable and <c>Retry-After</c>. With
    /// <c>"false"</c> YARP's own answer (502 Bad Gateway) stands.
    /// </summary>
    /// <value>Default: <c>"true"</c>.</value>
    public const string Respond503 = "TuplePool.Respond503";
}
