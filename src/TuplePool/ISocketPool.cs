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

    /// <summary>Returns per-tuple usage (capacity, active, idle, TIME_WAIT, held by others, remaining) and the callers waiting.</summary>
    TuplePoolSnapshot GetSnapshot();
}
