using System.Net;

namespace TuplePool.Pooling;

/// <summary>
/// What a <see cref="DestinationPool"/> needs from whoever holds every destination (the
/// <see cref="DestinationRegistry"/>): the pool's state, and the things that cross
/// destinations. (Room freed on an address reaches the other destinations waiting on it through
/// the budget, <see cref="TupleLookup.Watch"/>.) Everything else it uses comes down through its <see cref="PoolContext"/>.
/// </summary>
internal interface IDestinationOwner
{
    /// <summary>The pool was disposed: lend nothing more, close what comes back.</summary>
    bool IsDisposed { get; }

    /// <summary>The usage of every tuple that could serve <paramref name="addresses"/>, for the errors an acquire ends with.</summary>
    BudgetUsage UsageFor(IReadOnlyList<IPEndPoint> addresses);

    /// <summary><paramref name="retired"/> was evicted as a caller came in: acquire from the destination that replaces it.</summary>
    ValueTask<SocketLease> AcquireAgainAsync(DestinationPool retired, TimeSpan timeout, AcquirePurpose purpose, CancellationToken cancellationToken);

    /// <summary><paramref name="destination"/> took its first open slot: it has (or is opening) a connection.</summary>
    void FirstOpened(DestinationPool destination);

    /// <summary><paramref name="destination"/> gave back its last open slot: nothing of it is open.</summary>
    void LastClosed(DestinationPool destination);
}
