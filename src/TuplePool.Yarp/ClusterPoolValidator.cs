using Microsoft.Extensions.DependencyInjection;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Configuration.ClusterValidators;

namespace TuplePool.Yarp;

/// <summary>
/// Rejects, with YARP's other configuration errors, a cluster whose <see cref="TuplePoolProxyMetadata.Pool"/>
/// names no registered pool: the host does not start, and a reload keeps the running configuration,
/// instead of the client factory failing halfway through applying a new one.
/// </summary>
internal sealed class ClusterPoolValidator(IServiceProvider services) : IClusterValidator
{
    public ValueTask ValidateAsync(ClusterConfig cluster, IList<Exception> errors)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(errors);
        if (PoolChoice.NamedPool(cluster.Metadata) is { } name && !IsRegistered(name))
        {
            errors.Add(new ArgumentException(PoolChoice.Unknown(cluster.ClusterId, name)));
        }

        return default;
    }

    private bool IsRegistered(string name)
        => !string.IsNullOrWhiteSpace(name)
            && services.GetService<IServiceProviderIsKeyedService>() is { } keyed
            && keyed.IsKeyedService(typeof(ISocketPool), name);
}
