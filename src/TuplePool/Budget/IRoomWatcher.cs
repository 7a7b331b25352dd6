namespace TuplePool.Budget;

/// <summary>
/// Something with callers waiting for room on a destination address (a destination of the pool
/// that connects to it): told when room may have come, so a close on one destination wakes only
/// the others that wait on the same address, never a walk over every destination.
/// </summary>
internal interface IRoomWatcher
{
    /// <summary>Callers waiting now; a watcher with none is dropped from the address's list.</summary>
    int Waiting { get; }

    /// <summary>Room may be free on an address the watcher registered for: wake one waiter to look.</summary>
    void RoomMayBeFree();
}
