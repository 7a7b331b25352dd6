using System.Net;

namespace TuplePool.Pooling;

/// <summary>
/// What a <see cref="DestinationPool"/> needs from whoever holds every destination (the
/// <see cref="DestinationRegistry"/>): the pool's state, and the two things that cross
/// destinations. Everything else it uses comes down through its <see cref="PoolContext"/>.
/// </summary>
internal interface IDestinationOwner
{
    /// <summary>The pool was disposed: lend nothing more, close what comes back.</summary>
    bool IsDisposed { get; }

    /// <summary>
    /// A connection of <paramref name="from"/> to <paramref name="address"/> closed: other
    /// destinations using that address (a name and its address, two names for one address)
    /// share its tuples and may have callers waiting for the port.
    /// </summary>
    void OnRoomFreed(DestinationPool from, IPEndPoint address);

    /// <summary>The usage of every tuple that could serve <paramref name="addresses"/>, for the errors an acquire ends with.</summary>
    IReadOnlyList<TupleUsage> UsageFor(IReadOnlyList<IPEndPoint> addresses);

    /// <summary><paramref name="retired"/> was evicted as a caller came in: acquire from the destination that replaces it.</summary>
    ValueTask<SocketLease> AcquireAgainAsync(DestinationPool retired, TimeSpan timeout, CancellationToken cancellationToken);
}
