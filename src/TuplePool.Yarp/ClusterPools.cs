using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Yarp.ReverseProxy.Model;

namespace TuplePool.Yarp;

/// <summary>
/// The lifetimes of the pools YARP's clusters connect through. A cluster without
/// <see cref="TuplePoolProxyMetadata.Pool"/> gets a pool of its own, built from the default pool's
/// options (<c>AddTuplePool</c>, the <c>TuplePool</c> section) the first time its client is built,
/// and keeps it while YARP re-creates the cluster's handler on configuration reloads, so the budget
/// counts the connections the old handler still holds. The pool is disposed when the cluster is
/// removed, when it switches to a named pool, and at shutdown. Named pools belong to the container.
/// </summary>
/// <remarks>
/// YARP builds clients and reports cluster changes from one configuration update at a time; the
/// dictionaries are concurrent because <see cref="TryGetPool"/> is read from anywhere.
/// </remarks>
internal sealed class ClusterPools : IClusterSocketPools, IClusterChangeListener, IAsyncDisposable, IDisposable
{
    // YARP compares cluster ids ignoring case (ProxyConfigManager).
    private readonly ConcurrentDictionary<string, SocketPool> _owned = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, ISocketPool> _current = new(StringComparer.OrdinalIgnoreCase);
    private readonly IServiceProvider _services;
    private readonly IOptionsMonitor<TuplePoolOptions> _options;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly IMeterFactory? _meterFactory;
    private readonly ILogger _logger;
    private volatile bool _disposed;

    public ClusterPools(IServiceProvider services, IOptionsMonitor<TuplePoolOptions> options)
    {
        _services = services;
        _options = options;
        _time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        _loggerFactory = services.GetService<ILoggerFactory>();
        _meterFactory = services.GetService<IMeterFactory>();
        _logger = (ILogger?)_loggerFactory?.CreateLogger<ClusterPools>() ?? NullLogger.Instance;
    }

    /// <summary>The pool a new client of <paramref name="clusterId"/> connects through, per its metadata.</summary>
    /// <exception cref="InvalidOperationException">The metadata names a pool that was never registered.</exception>
    public ISocketPool PoolFor(string clusterId, IReadOnlyDictionary<string, string>? metadata)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ISocketPool pool;
        if (PoolChoice.NamedPool(metadata) is { } name)
        {
            pool = (string.IsNullOrWhiteSpace(name) ? null : _services.GetKeyedService<ISocketPool>(name))
                ?? throw new InvalidOperationException(PoolChoice.Unknown(clusterId, name));
            Log.NamedPoolChosen(_logger, clusterId, name);
        }
        else
        {
            pool = OwnPool(clusterId);
        }

        _current[clusterId] = pool;
        return pool;
    }

    public bool TryGetPool(string clusterId, [NotNullWhen(true)] out ISocketPool? pool)
    {
        ArgumentNullException.ThrowIfNull(clusterId);
        return _current.TryGetValue(clusterId, out pool);
    }

    public void OnClusterAdded(ClusterState cluster)
    {
    }

    public void OnClusterChanged(ClusterState cluster)
    {
        // Called once the cluster's new model (and client) is in place: a cluster that now names a
        // pool no longer needs its own.
        ArgumentNullException.ThrowIfNull(cluster);
        if (PoolChoice.NamedPool(cluster.Model?.Config.Metadata) is not null)
        {
            DisposeOwn(cluster.ClusterId, "the cluster now uses a named pool");
        }
    }

    public void OnClusterRemoved(ClusterState cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        _current.TryRemove(cluster.ClusterId, out _);
        DisposeOwn(cluster.ClusterId, "the cluster was removed");
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _current.Clear();
        foreach (var id in _owned.Keys)
        {
            if (_owned.TryRemove(id, out var pool))
            {
                await pool.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Same as <see cref="DisposeAsync"/>, which never blocks (a pool's dispose completes synchronously).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private SocketPool OwnPool(string clusterId)
    {
        if (_owned.TryGetValue(clusterId, out var pool))
        {
            return pool;
        }

        // Under the lock, so two callers can never both build one (GetOrAdd may run its factory
        // twice and drop a pool it never disposes).
        lock (_owned)
        {
            if (!_owned.TryGetValue(clusterId, out pool))
            {
                // The validated default options, as AddTuplePool's own pool gets them; the pool copies them.
                pool = new SocketPool(_options.Get(Microsoft.Extensions.Options.Options.DefaultName), _time, _loggerFactory, _meterFactory);
                _owned[clusterId] = pool;
                Log.OwnPoolCreated(_logger, clusterId);
            }

            return pool;
        }
    }

    private void DisposeOwn(string clusterId, string reason)
    {
        if (_owned.TryRemove(clusterId, out var pool))
        {
            // Requests still on the old client keep their connections: a disposed pool closes a
            // leased socket when it is returned.
            pool.Dispose();
            Log.OwnPoolDisposed(_logger, clusterId, reason);
        }
    }
}
