using System.Net;
using System.Net.Http;
using TuplePool.Options;
using TuplePool.SocketsHttp;

namespace TuplePool;

/// <summary>Connects a <see cref="SocketsHttpHandler"/> through an <see cref="ISocketPool"/>.</summary>
public static class TuplePoolSocketsHttpHandlerExtensions
{
    /// <summary>
    /// Sets <see cref="SocketsHttpHandler.ConnectCallback"/> so every new HTTP connection is opened
    /// by <paramref name="pool"/>: from the source address with most room, within each tuple's port
    /// budget, waiting up to <see cref="TuplePoolOptions.AcquireTimeout"/> when there is none. When
    /// the handler drops a connection the socket is closed (per <see cref="TuplePoolOptions.CloseMode"/>)
    /// and its budget released; HttpClient keeps its own connection pool, so these sockets do not
    /// go to the pool's idle store.
    /// </summary>
    /// <remarks>
    /// <para>When no port frees up in time, requests fail with <see cref="HttpRequestException"/> whose
    /// <see cref="Exception.InnerException"/> is <see cref="TupleBudgetExhaustedException"/> — also
    /// when the handler's <see cref="SocketsHttpHandler.ConnectTimeout"/> is shorter than
    /// <see cref="TuplePoolOptions.AcquireTimeout"/> (YARP's 15 s): the pool then gives up a little
    /// before the handler would.</para>
    /// <para>A connection attempt is not a request: <c>HttpClient</c> starts one for a request
    /// that finds no free connection, serves that request with whichever connection comes first,
    /// and hands the attempt's error only to that request, only if it still waits. So a refusal
    /// here counts as a background one (<see cref="TupleBudgetExhaustedException.IsBackground"/>,
    /// <see cref="TuplePoolSnapshot.BackgroundRefusals"/>) until a request is reported to have
    /// received it (<see cref="TupleBudgetExhaustedException.MarkReceived"/>): <c>TuplePool.Http</c>'s
    /// <c>UseTuplePool()</c> and <c>TuplePool.Yarp</c> report every request that fails with it; with
    /// this handler alone, call it where a request's exception carries it.</para>
    /// Plain-text HTTP/1.1 and HTTP/2 and TLS all go through the callback; HTTP/3 (QUIC) does not
    /// use it and is not budgeted.
    /// </remarks>
    /// <param name="handler">A handler not yet used to send a request.</param>
    /// <param name="pool">The pool to connect through; shared by every handler that should share a budget.</param>
    /// <returns><paramref name="handler"/>, for chaining.</returns>
    /// <exception cref="InvalidOperationException">The handler already has a <see cref="SocketsHttpHandler.ConnectCallback"/>.</exception>
    public static SocketsHttpHandler UseTuplePool(this SocketsHttpHandler handler, ISocketPool pool)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(pool);
        if (handler.ConnectCallback is not null)
        {
            throw new InvalidOperationException(
                "The SocketsHttpHandler already has a ConnectCallback; UseTuplePool sets its own to open connections through the pool. "
                + "Remove the other callback, or call UseTuplePool only once per handler.");
        }

        handler.ConnectCallback = (context, cancellationToken) => ConnectAsync(pool, handler, context.DnsEndPoint, cancellationToken);
        return handler;
    }

    /// <summary>
    /// How much sooner than the handler's <see cref="SocketsHttpHandler.ConnectTimeout"/> the pool
    /// gives up waiting for room: the handler's clock started before the callback ran, and the
    /// typed refusal must reach the request before the handler's cancellation does.
    /// </summary>
    internal static TimeSpan ConnectTimeoutMargin(TimeSpan connectTimeout)
        => TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, connectTimeout.Ticks / 20));

    private static async ValueTask<Stream> ConnectAsync(ISocketPool pool, SocketsHttpHandler handler, DnsEndPoint endPoint, CancellationToken cancellationToken)
    {
        // A literal address needs no name resolution: hand the pool an IPEndPoint directly.
        EndPoint destination = AddressParser.TryParse(endPoint.Host, out var address)
            ? new IPEndPoint(address, endPoint.Port)
            : endPoint;

        // The handler cancels this callback at its ConnectTimeout (YARP sets 15 s, shorter than
        // the 30 s AcquireTimeout): bounded a little sooner, a full budget ends as the pool's
        // TupleBudgetExhaustedException instead of a bare cancellation.
        var connectTimeout = handler.ConnectTimeout;
        // A refusal here counts as background until a request is reported to receive it.
        var lease = pool is SocketPool socketPool
            ? await socketPool.AcquireForHttpAsync(destination, Bound(socketPool.AcquireTimeout, connectTimeout), cancellationToken).ConfigureAwait(false)
            : await pool.AcquireAsync(destination, cancellationToken).ConfigureAwait(false);
        try
        {
            return new LeaseStream(lease);
        }
        catch
        {
            lease.Invalidate();
            lease.Dispose();
            throw;
        }

        // An infinite AcquireTimeout is longer than any ConnectTimeout, not shorter (it is -1 ms).
        static TimeSpan Bound(TimeSpan acquireTimeout, TimeSpan connectTimeout)
        {
            if (connectTimeout == Timeout.InfiniteTimeSpan || (acquireTimeout != Timeout.InfiniteTimeSpan && acquireTimeout <= connectTimeout))
            {
                return acquireTimeout;
            }

            var bound = connectTimeout - ConnectTimeoutMargin(connectTimeout);
            return bound > TimeSpan.Zero ? bound : connectTimeout;
        }
    }
}
