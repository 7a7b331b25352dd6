using System.Net;

namespace TuplePool;

/// <summary>
/// Hands out connected TCP sockets, reusing idle ones and opening new ones within each
/// (source, destination IP, destination port) tuple's port budget.
/// </summary>
public interface ISocketPool : IAsyncDisposable
{
    /// <summary>
    /// Returns a lease on a connected socket to <paramref name="destination"/>: an idle one when
    /// there is one (completes synchronously), otherwise a new connection from the source address
    /// with most room. When no source has room it waits, first come first served, up to
    /// <see cref="TuplePoolOptions.AcquireTimeout"/>.
    /// </summary>
    /// <param name="destination">
    /// An <see cref="IPEndPoint"/>, or a <see cref="DnsEndPoint"/> the pool resolves. The pool keeps
    /// a copy: changing the object afterwards does not change what was asked for. An IPv4-mapped
    /// IPv6 address is the IPv4 address it maps.
    /// </param>
    /// <param name="cancellationToken">Cancels the wait and the connect.</param>
    /// <exception cref="ArgumentException">Not an address a TCP connection can be made to (port 0, any, multicast, broadcast).</exception>
    /// <exception cref="TupleBudgetExhaustedException">
    /// No room within <see cref="TuplePoolOptions.AcquireTimeout"/>, or at once when
    /// <see cref="TuplePoolOptions.MaxPendingAcquires"/> callers already wait
    /// (<see cref="TupleBudgetExhaustedException.WaitLineFull"/>).
    /// </exception>
    /// <exception cref="System.Net.Sockets.SocketException">
    /// The destination refused, was unreachable, or the connect timed out; a name did not resolve
    /// (<c>HostNotFound</c>, naming it); no source address of the destination's family is
    /// configured (<c>AddressFamilyNotSupported</c>, a configuration error).
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    ValueTask<SocketLease> AcquireAsync(EndPoint destination, CancellationToken cancellationToken = default);

    /// <summary>
    /// Opens new connections to <paramref name="destination"/> into the idle store until
    /// <paramref name="count"/> are idle, so the first acquires (and <see cref="System.Net.Http.HttpClient"/>'s first
    /// connections through <c>UseTuplePool</c>) need no connect. Connections already idle count:
    /// a second call with the same count opens none while they stay idle. Never more than
    /// <see cref="TuplePoolOptions.MaxIdlePerDestination"/> idle or
    /// <see cref="TuplePoolOptions.MaxConnectionsPerDestination"/> open, and never beyond any
    /// tuple's port budget: when no tuple has room, warming stops (it does not wait and does not
    /// throw). A caller waiting for a connection is handed a warmed one first.
    /// </summary>
    /// <param name="destination">An <see cref="IPEndPoint"/>, or a <see cref="DnsEndPoint"/> the pool resolves.</param>
    /// <param name="count">How many idle connections to have; 0 opens none.</param>
    /// <param name="cancellationToken">Cancels the connect; connections warmed before it stay idle.</param>
    /// <returns>How many connections were opened (0 to <paramref name="count"/>).</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="count"/> is negative.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">A connect failed (refused, unreachable, timed out), as from <see cref="AcquireAsync"/>.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed, before or during warming (what was warmed is closed with it).</exception>
    ValueTask<int> WarmAsync(EndPoint destination, int count, CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns per-tuple usage (capacity, active, idle, TIME_WAIT, held by others, remaining), the
    /// callers waiting, and the callers refused so far with the time of the last refusal.
    /// </summary>
    TuplePoolSnapshot GetSnapshot();
}
