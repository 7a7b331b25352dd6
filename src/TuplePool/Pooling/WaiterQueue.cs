namespace TuplePool.Pooling;

/// <summary>
/// Acquirers waiting for a returned connection or for budget, served first come, first served.
/// A wake completes exactly one waiter, which then tries again; it does not carry a connection,
/// so a waiter that gave up in the meantime can pass its wake on instead of losing it.
/// </summary>
internal sealed class WaiterQueue
{
    private readonly LinkedList<Waiter> _waiters = new();
    private int _count;

    /// <summary>Waiters in line; read without a lock on the hot path.</summary>
    public int Count => Volatile.Read(ref _count);

    public Waiter Enqueue(bool atFront)
    {
        var waiter = new Waiter();
        lock (_waiters)
        {
            waiter.Node = atFront ? _waiters.AddFirst(waiter) : _waiters.AddLast(waiter);
            _count = _waiters.Count;
        }

        return waiter;
    }

    /// <summary>Takes <paramref name="waiter"/> out of line; false when a wake already took it.</summary>
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
            _count = _waiters.Count;
            return true;
        }
    }

    /// <summary>Wakes the first waiter in line, if any.</summary>
    public void WakeOne()
    {
        if (Count == 0)
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
                _count = _waiters.Count;
            }
        }

        first?.Completion.TrySetResult(true);
    }

    /// <summary>Fails every waiter (the pool is being disposed).</summary>
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

            _count = 0;
        }

        foreach (var waiter in all)
        {
            waiter.Completion.TrySetException(error);
        }
    }

    internal sealed class Waiter
    {
        public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public LinkedListNode<Waiter>? Node { get; set; }
    }
}
