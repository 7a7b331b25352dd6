namespace TuplePool.Yarp;

/// <summary>
/// Which pool a cluster's metadata chooses: the named pool under <see cref="TuplePoolProxyMetadata.Pool"/>,
/// or (no such key) a pool of the cluster's own. One reader for the factory, the validator and the
/// lifetimes, so they cannot disagree on what a cluster asked for.
/// </summary>
internal static class PoolChoice
{
    /// <summary>The pool name the metadata gives, or null for the cluster's own pool. The value is taken as written.</summary>
    public static string? NamedPool(IReadOnlyDictionary<string, string>? metadata)
        => metadata is not null && metadata.TryGetValue(TuplePoolProxyMetadata.Pool, out var name) ? name : null;

    /// <summary>Both metadata choose the same pool, so a client built for one serves the other.</summary>
    public static bool Same(IReadOnlyDictionary<string, string>? old, IReadOnlyDictionary<string, string>? current)
        => string.Equals(NamedPool(old), NamedPool(current), StringComparison.Ordinal);

    /// <summary>The error for a cluster whose metadata names a pool that was never registered.</summary>
    public static string Unknown(string clusterId, string name)
        => string.IsNullOrWhiteSpace(name)
            ? $"Cluster '{clusterId}': metadata '{TuplePoolProxyMetadata.Pool}' is empty. Name a pool registered with services.AddTuplePool(\"name\", ...), or remove the key to give the cluster a pool of its own."
            : $"Cluster '{clusterId}': metadata '{TuplePoolProxyMetadata.Pool}' names the TuplePool '{name}', but no pool was registered under that name. Register it with services.AddTuplePool(\"{name}\", ...), or remove the key to give the cluster a pool of its own.";
}
