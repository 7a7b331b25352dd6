using System.Net;
using System.Net.Http;
using TuplePool.Http;

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
    /// When no port frees up in time, requests fail with <see cref="HttpRequestException"/> whose
    /// <see cref="Exception.InnerException"/> is <see cref="TupleBudgetExhaustedException"/>.
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

        handler.ConnectCallback = (context, cancellationToken) => ConnectAsync(pool, context.DnsEndPoint, cancellationToken);
        return handler;
    }

    private static async ValueTask<Stream> ConnectAsync(ISocketPool pool, DnsEndPoint endPoint, CancellationToken cancellationToken)
    {
        // A literal address needs no name resolution: hand the pool an IPEndPoint directly.
        EndPoint destination = TryParseLiteral(endPoint.Host, out var address)
            ? new IPEndPoint(address, endPoint.Port)
            : endPoint;
        var lease = await pool.AcquireAsync(destination, cancellationToken).ConfigureAwait(false);
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
    }

    private static bool TryParseLiteral(string host, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        var span = host.AsSpan();
        if (span.Length > 2 && span[0] == '[' && span[^1] == ']')
        {
            span = span[1..^1];
        }

        // Only text that is unmistakably an address: IPAddress.TryParse also reads "10" as 0.0.0.10,
        // and a host name could be all digits.
        return (span.Contains(':') || IsDottedQuad(span)) && IPAddress.TryParse(span, out address);
    }

    private static bool IsDottedQuad(ReadOnlySpan<char> text)
    {
        foreach (var c in text)
        {
            if (c != '.' && !char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return text.Count('.') == 3;
    }
}
