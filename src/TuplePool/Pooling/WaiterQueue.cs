namespace TuplePool.Pooling;

/// <summary>
/// Acquirers waiting for a returned connection or for budget, served first come, first served.
/// </summary>
/// <remarks>
/// A wake completes exactly one waiter, which then tries again; it does not carry a connection,
/// so a waiter that gave up in the meantime can pass its wake on instead of losing it. A woken
/// waiter still counts in <see cref="Count"/> until it calls <see cref="EndWake"/> (it got its
/// connection, gave up, or joined the line again at the front): otherwise a newcomer on the fast
/// path would see an empty line and take the returned socket from under it.
/// </remarks>
internal sealed class WaiterQueue
{
    private readonly LinkedList<Waiter> _waiters = new();
    private int _count;
    private int _inFlight;

    /// <summary>Waiters in line plus woken waiters not yet done; read without a lock on the hot path.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Waiters still asleep in line.</summary>
    public int Queued
    {
        get
        {
            lock (_waiters)
            {
                return _waiters.Count;
            }
        }
    }

    public Waiter Enqueue(bool atFront)
    {
        var waiter = new Waiter();
        lock (_waiters)
        {
            waiter.Node = atFront ? _waiters.AddFirst(waiter) : _waiters.AddLast(waiter);
            Publish();
        }

        return waiter;
    }

    /// <summary>Takes <paramref name="waiter"/> out of line; false when a wake already took it (the caller then holds that wake).</summary>
    public bool TryRemove(Waiter waiter)
    {
        lock (_waiters)
        {
            if (waiter.Node?.List is null)
            {
                return false;
            }

            _waiters.Remove(waiter.Node);
            waiter.Node = null;
            Publish();
            return true;
        }
    }

    /// <summary>Wakes the first waiter in line, if any.</summary>
    public void WakeOne()
    {
        if (Volatile.Read(ref _count) == 0)
        {
            return;
        }

        Waiter? first = null;
        lock (_waiters)
        {
            var node = _waiters.First;
            if (node is not null)
            {
                _waiters.RemoveFirst();
                node.Value.Node = null;
                first = node.Value;
                _inFlight++;
                Publish();
            }
        }

        first?.Completion.TrySetResult(true);
    }

    /// <summary>A woken waiter is done with its wake.</summary>
    public void EndWake()
    {
        lock (_waiters)
        {
            _inFlight--;
            Publish();
        }
    }

    /// <summary>Fails every waiter in line (the pool is being disposed).</summary>
    public void FailAll(Exception error)
    {
        List<Waiter> all;
        lock (_waiters)
        {
            all = [.. _waiters];
            _waiters.Clear();
            foreach (var waiter in all)
            {
                waiter.Node = null;
            }

            Publish();
        }

        foreach (var waiter in all)
        {
            waiter.Completion.TrySetException(error);
        }
    }

    private void Publish() => Volatile.Write(ref _count, _waiters.Count + _inFlight);

    internal sealed class Waiter
    {
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }
}
