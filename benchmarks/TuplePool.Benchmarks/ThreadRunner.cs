namespace TuplePool.Benchmarks;

/// <summary>
/// Runs one body on <c>threadCount</c> threads at once and returns when all are done. The threads
/// live for the whole benchmark and meet at barriers, so an invocation pays two barrier crossings
/// instead of thread-pool scheduling; with one thread the body runs inline with no barrier at all.
/// </summary>
internal sealed class ThreadRunner : IDisposable
{
    private readonly Thread[] _workers;
    private readonly Barrier? _start;
    private readonly Barrier? _done;
    private Action<int>? _body;
    private volatile bool _stopping;

    public ThreadRunner(int threadCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threadCount, 1);
        ThreadCount = threadCount;
        _workers = new Thread[threadCount - 1];
        if (threadCount == 1)
        {
            return;
        }

        _start = new Barrier(threadCount);
        _done = new Barrier(threadCount);
        for (var i = 0; i < _workers.Length; i++)
        {
            var index = i + 1;
            _workers[i] = new Thread(() => WorkerLoop(index)) { IsBackground = true, Name = $"bench-worker-{index}" };
            _workers[i].Start();
        }
    }

    public int ThreadCount { get; }

    /// <summary>Runs <paramref name="body"/>(threadIndex) on every thread; this thread is index 0.</summary>
    public void Run(Action<int> body)
    {
        if (_start is null)
        {
            body(0);
            return;
        }

        _body = body;
        _start.SignalAndWait();
        body(0);
        _done!.SignalAndWait();
    }

    public void Dispose()
    {
        if (_start is null)
        {
            return;
        }

        _stopping = true;
        _start.SignalAndWait();
        foreach (var worker in _workers)
        {
            worker.Join();
        }

        _start.Dispose();
        _done!.Dispose();
    }

    private void WorkerLoop(int index)
    {
        while (true)
        {
            _start!.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            _body!(index);
            _done!.SignalAndWait();
        }
    }
}
