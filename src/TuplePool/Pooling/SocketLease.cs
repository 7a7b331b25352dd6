using System.Net;
using System.Net.Sockets;
using TuplePool.Pooling;

namespace TuplePool;

/// <summary>
/// A connected socket lent by an <see cref="ISocketPool"/>. Dispose it to give the socket back
/// for reuse; call <see cref="Invalidate"/> first when the socket must not be reused (a protocol
/// error, a response not fully read, a timeout).
/// </summary>
/// <remarks>
/// A struct so an idle hit allocates nothing. It carries a token: once any copy is disposed,
/// every copy is stale — its members throw <see cref="ObjectDisposedException"/> and disposing
/// it again does nothing, so a stale copy can never touch a socket that has since been lent to
/// someone else.
/// </remarks>
public readonly struct SocketLease : IDisposable, IAsyncDisposable
{
    private readonly PooledConnection? _connection;
    private readonly int _token;

    internal SocketLease(PooledConnection connection, int token, bool isReused)
    {
        _connection = connection;
        _token = token;
        IsReused = isReused;
    }

    /// <summary>The connected socket. Do not dispose it; dispose the lease.</summary>
    public Socket Socket => Connection.Socket;

    /// <summary>
    /// A stream over the socket, the same object for every lease of this connection. Disposing
    /// it marks the connection as not reusable; the lease still has to be disposed. Do not keep
    /// it (or the <see cref="Socket"/>) past the lease: unlike the lease, a kept reference is not
    /// checked and would reach the next caller's connection. Socket options you change (timeouts,
    /// shutdown) stay on the socket for the next lease; call <see cref="Invalidate"/> after
    /// changing them.
    /// </summary>
    public Stream Stream => Connection.Stream;

    /// <summary>The local address and port of the connection.</summary>
    public IPEndPoint LocalEndPoint => Connection.LocalEndPoint;

    /// <summary>The remote address and port of the connection.</summary>
    public IPEndPoint RemoteEndPoint => Connection.RemoteEndPoint;

    /// <summary>
    /// True when the socket was used by an earlier lease. A reused socket can still turn out to
    /// be dead (the peer may close it while the request is in flight): callers that retry
    /// idempotent work on such a failure should check this.
    /// </summary>
    public bool IsReused { get; }

    /// <summary>Closes the socket when the lease is disposed instead of returning it to the pool.</summary>
    /// <exception cref="ObjectDisposedException">The lease was already disposed.</exception>
    public void Invalidate()
    {
        var connection = _connection;
        if (connection is null)
        {
            ThrowHelper.ThrowLeaseNeverAcquired();
        }

        if (!connection.TryInvalidate(_token))
        {
            ThrowHelper.ThrowLeaseDisposed();
        }
    }

    /// <summary>
    /// Returns the socket to the pool (or closes it when invalidated, expired or dirty). A second
    /// call does nothing. A lease never disposed holds its port until the garbage collector has
    /// collected every copy of it; the pool then finds it gone and frees its budget (charged as
    /// TIME_WAIT, since how the socket was closed is unknown).
    /// </summary>
    public void Dispose() => _connection?.EndLease(_token);

    /// <summary>Same as <see cref="Dispose"/>; returning a socket never blocks.</summary>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return default;
    }

    private PooledConnection Connection
    {
        get
        {
            var connection = _connection;
            if (connection is null)
            {
                ThrowHelper.ThrowLeaseNeverAcquired();
            }

            if (!connection.IsLeasedWith(_token))
            {
                ThrowHelper.ThrowLeaseDisposed();
            }

            return connection;
        }
    }
}
