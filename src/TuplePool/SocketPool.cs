using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace TuplePool;

/// <summary>The pool. (being written)</summary>
public sealed class SocketPool : ISocketPool
{
    /// <summary>Creates a pool.</summary>
    public SocketPool(TuplePoolOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = timeProvider;
        _ = loggerFactory;
        _ = meterFactory;
    }

    /// <inheritdoc />
    public ValueTask<SocketLease> AcquireAsync(EndPoint destination, CancellationToken cancellationToken = default) => throw new NotImplementedException();

    /// <inheritdoc />
    public TuplePoolSnapshot GetSnapshot() => throw new NotImplementedException();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => default;
}
