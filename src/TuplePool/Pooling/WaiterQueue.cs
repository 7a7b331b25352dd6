using System.Diagnostics;
#if NET9_0_OR_GREATER
using Gate = System.Threading.Lock;
#else
using Gate = object;
#endif

namespace TuplePool.Pooling;

/// <summary>
/// The acquirers of one destination waiting for a connection or for room, first come, first
/// served: an intrusive doubly linked list of pooled <see cref="Waiter"/>s, so joining and
/// leaving the line allocates nothing.
/// </summary>
/// <remarks>
/// A wake takes the first waiter out of line and completes it with one compare-and-swap
/// (<see cref="Waiter.TrySignal"/>). A waiter that timed out or was cancelled a moment before
/// loses nothing by being taken out, and the wake goes on to the next one: a wake is owned by
/// exactly one waiter, and never by one that has given up. <see cref="Count"/> is updated with
/// an interlocked instruction, so it is a full fence between joining the line and the joiner's
/// next look at the idle store and the budget (see <see cref="DestinationPool"/>).
/// </remarks>
internal sealed class WaiterQueue
{
    private readonly Gate _gate = new();
    private readonly WaitingCount? _total;
    private Waiter? _first;
    private Waiter? _last;
    private int _count;

    /// <param name="total">The pool's count of waiters at every destination, kept with this line's; null for none.</param>
    public WaiterQueue(WaitingCount? total = null) => _total = total;

    /// <summary>Waiters in line (asleep, not yet woken); read without the lock.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Puts <paramref name="waiter"/> in line with the ticket of its current use: at the back, or
    /// at the front for a waiter that was woken and found nothing (it keeps its turn). False when
    /// <paramref name="limit"/> waiters are already in line (never for the front).
    /// </summary>
    public bool TryEnqueue(Waiter waiter, long ticket, bool atFront, int limit)
    {
        lock (_gate)
        {
            Debug.Assert(!waiter.IsQueued, "A waiter joined the line twice.");
            if (!atFront && _count >= limit)
            {
                return false;
            }

            waiter.Ticket = ticket;
            waiter.IsQueued = true;
            if (atFront)
            {
                waiter.Next = _first;
                waiter.Previous = null;
                if (_first is null)
                {
                    _last = waiter;
                }
                else
                {
                    _first.Previous = waiter;
                }

                _first = waiter;
            }
            else
            {
                waiter.Previous = _last;
                waiter.Next = null;
                if (_last is null)
                {
                    _first = waiter;
                }
                else
                {
                    _last.Next = waiter;
                }

                _last = waiter;
            }

            Interlocked.Increment(ref _count);
            _total?.Add(1);
            return true;
        }
    }

    /// <summary>Takes <paramref name="waiter"/> out of line; false when a wake already took it out.</summary>
    public bool TryRemove(Waiter waiter)
    {
        lock (_gate)
        {
            if (!waiter.IsQueued)
            {
                return false;
            }

            Unlink(waiter);
            return true;
        }
    }

    /// <summary>Hands <paramref name="connection"/> to the first waiter still waiting; false when there is none (the caller keeps it).</summary>
    public bool TryHandOff(PooledConnection connection) => Signal(WakeReason.Connection, connection);

    /// <summary>Wakes the first waiter still waiting to look for room again; false when nobody waits.</summary>
    public bool WakeOne() => Signal(WakeReason.Room, null);

    /// <summary>Wakes every waiter with <see cref="WakeReason.Disposed"/>.</summary>
    public void FailAll()
    {
        while (Signal(WakeReason.Disposed, null))
        {
        }
    }

    private bool Signal(WakeReason reason, PooledConnection? connection)
    {
        while (Volatile.Read(ref _count) != 0)
        {
            Waiter? first;
            long ticket;
            lock (_gate)
            {
                first = _first;
                if (first is null)
                {
                    return false;
                }

                ticket = first.Ticket;
                Unlink(first);
            }

            if (first.TrySignal(ticket, reason, connection))
            {
                return true;
            }

            // It timed out or was cancelled just now; it will find itself out of line. Next one.
        }

        return false;
    }

    private void Unlink(Waiter waiter)
    {
        if (waiter.Previous is null)
        {
            _first = waiter.Next;
        }
        else
        {
            waiter.Previous.Next = waiter.Next;
        }

        if (waiter.Next is null)
        {
            _last = waiter.Previous;
        }
        else
        {
            waiter.Next.Previous = waiter.Previous;
        }

        waiter.Previous = null;
        waiter.Next = null;
        waiter.IsQueued = false;
        var count = Interlocked.Decrement(ref _count);
        _total?.Add(-1);
        Debug.Assert(count >= 0, "More waiters left the line than joined it.");
        Debug.Assert((count == 0) == (_first is null) && (_first is null) == (_last is null), "The line's links and count disagree.");
    }
}
