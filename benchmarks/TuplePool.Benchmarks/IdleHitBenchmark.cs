using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;
using TuplePool.Demo.Loopback;

namespace TuplePool.Benchmarks;

/// <summary>
/// The hot path: lend an idle socket and take it back. SocketPool with and without the liveness
/// check, against what a user might pick instead (Microsoft.Extensions.ObjectPool's
/// <c>DefaultObjectPool&lt;object&gt;</c> with the default policy — the baseline — a
/// ConcurrentQueue, a ConcurrentBag), and against one bare <c>poll()</c> on an idle connected
/// loopback socket — the syscall the check costs — so the goal "checked ≤ ObjectPool + one poll +
/// 20 ns" can be read off one run.
/// </summary>
/// <remarks>
/// Each invocation does <see cref="Operations"/> acquire/release pairs in total, split over
/// <see cref="ThreadCount"/> threads working on the same pool at once; the reported time is per
/// pair of the whole run (wall time / operations), so 2 threads scaling perfectly show half the
/// 1-thread time.
/// </remarks>
[MemoryDiagnoser]
public class IdleHitBenchmark
{
    private const int Operations = 1 << 16;

    private ChildServer _server = null!;
    private IPEndPoint _destination = null!;
    private ThreadRunner _runner = null!;
    private SocketPool _unchecked = null!;
    private SocketPool _checked = null!;
    private DefaultObjectPool<object> _plainObjectPool = null!;
    private DefaultObjectPool<PooledItem> _objectPool = null!;
    private ConcurrentQueue<PooledItem> _queue = null!;
    private ConcurrentBag<PooledItem> _bag = null!;
    private Socket[] _pollSockets = [];

    private Action<int> _plainObjectPoolLoop = null!;
    private Action<int> _objectPoolLoop = null!;
    private Action<int> _queueLoop = null!;
    private Action<int> _bagLoop = null!;
    private Action<int> _pollLoop = null!;
    private Action<int> _uncheckedLoop = null!;
    private Action<int> _checkedLoop = null!;

    [Params(1, 2)]
    public int ThreadCount { get; set; }

    private int PerThread => Operations / ThreadCount;

    [GlobalSetup]
    public void Setup()
    {
        _server = BenchmarkServer.StartSockets();
        _destination = _server.Hold;
        _runner = new ThreadRunner(ThreadCount);

        // The baseline a user would pick: object, the default policy, the default size.
        _plainObjectPool = new DefaultObjectPool<object>(new DefaultPooledObjectPolicy<object>());
        _objectPool = new DefaultObjectPool<PooledItem>(new DefaultPooledObjectPolicy<PooledItem>(), ThreadCount * 2);
        _queue = new ConcurrentQueue<PooledItem>();
        _bag = [];
        for (var i = 0; i < ThreadCount; i++)
        {
            _queue.Enqueue(new PooledItem());
            _bag.Add(new PooledItem());
        }

        _pollSockets = new Socket[ThreadCount];
        for (var i = 0; i < ThreadCount; i++)
        {
            var socket = RawSocket.CreateTcp();
            RawSocket.SetAbortiveClose(socket);
            RawSocket.SetLocalPortRange(socket, ClientPorts.IdleHit);
            socket.Connect(_destination);
            _pollSockets[i] = socket;
        }

        _unchecked = CreatePool(validate: false);
        _checked = CreatePool(validate: true);

        // Cached delegates: an invocation allocates nothing of its own.
        _plainObjectPoolLoop = PlainObjectPoolLoop;
        _objectPoolLoop = ObjectPoolLoop;
        _queueLoop = QueueLoop;
        _bagLoop = BagLoop;
        _pollLoop = PollLoop;
        _uncheckedLoop = _ => PoolLoop(_unchecked);
        _checkedLoop = _ => PoolLoop(_checked);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _runner.Dispose();
        _unchecked.Dispose();
        _checked.Dispose();
        foreach (var socket in _pollSockets)
        {
            RawSocket.CloseAbortive(socket);
        }

        _server.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "DefaultObjectPool<object> Get+Return (default policy)")]
    public void PlainObjectPool() => _runner.Run(_plainObjectPoolLoop);

    [Benchmark(OperationsPerInvoke = Operations, Description = "DefaultObjectPool<PooledItem>, retains 2 per thread")]
    public void ObjectPool() => _runner.Run(_objectPoolLoop);

    [Benchmark(OperationsPerInvoke = Operations, Description = "ConcurrentQueue TryDequeue+Enqueue")]
    public void ConcurrentQueue() => _runner.Run(_queueLoop);

    [Benchmark(OperationsPerInvoke = Operations, Description = "ConcurrentBag TryTake+Add")]
    public void ConcurrentBag() => _runner.Run(_bagLoop);

    [Benchmark(OperationsPerInvoke = Operations, Description = "Socket.Poll(0) on an idle socket")]
    public void Poll() => _runner.Run(_pollLoop);

    [Benchmark(OperationsPerInvoke = Operations, Description = "SocketPool idle hit, unchecked")]
    public void SocketPoolUnchecked() => _runner.Run(_uncheckedLoop);

    [Benchmark(OperationsPerInvoke = Operations, Description = "SocketPool idle hit, checked")]
    public void SocketPoolChecked() => _runner.Run(_checkedLoop);

    private SocketPool CreatePool(bool validate)
    {
        var pool = new SocketPool(new TuplePoolOptions
        {
            LocalPortRange = ClientPorts.IdleHit,
            ValidateOnAcquire = validate,
            CloseMode = CloseMode.Abortive,
            IdleTimeout = TimeSpan.FromHours(1),
        });

        // One idle socket per thread: each thread holds at most one lease, so every acquire is a hit.
        var leases = new SocketLease[ThreadCount];
        for (var i = 0; i < ThreadCount; i++)
        {
            leases[i] = pool.AcquireAsync(_destination).AsTask().GetAwaiter().GetResult();
        }

        foreach (var lease in leases)
        {
            lease.Dispose();
        }

        return pool;
    }

    private void PlainObjectPoolLoop(int thread)
    {
        var pool = _plainObjectPool;
        for (var i = PerThread; i > 0; i--)
        {
            pool.Return(pool.Get());
        }
    }

    private void ObjectPoolLoop(int thread)
    {
        var pool = _objectPool;
        for (var i = PerThread; i > 0; i--)
        {
            pool.Return(pool.Get());
        }
    }

    private void QueueLoop(int thread)
    {
        var queue = _queue;
        for (var i = PerThread; i > 0; i--)
        {
            if (queue.TryDequeue(out var item))
            {
                queue.Enqueue(item);
            }
        }
    }

    private void BagLoop(int thread)
    {
        var bag = _bag;
        for (var i = PerThread; i > 0; i--)
        {
            if (bag.TryTake(out var item))
            {
                bag.Add(item);
            }
        }
    }

    private void PollLoop(int thread)
    {
        var socket = _pollSockets[thread];
        for (var i = PerThread; i > 0; i--)
        {
            if (socket.Poll(0, SelectMode.SelectRead))
            {
                throw new InvalidOperationException("The idle socket became readable: the server wrote or closed.");
            }
        }
    }

    private void PoolLoop(SocketPool pool)
    {
        var destination = _destination;
        for (var i = PerThread; i > 0; i--)
        {
            var pending = pool.AcquireAsync(destination);
            if (!pending.IsCompletedSuccessfully)
            {
                throw new InvalidOperationException("An acquire missed the idle store; the benchmark would measure connects.");
            }

            pending.Result.Dispose();
        }
    }

    /// <summary>What the object pools hold: a stand-in for a connection object.</summary>
    public sealed class PooledItem
    {
        public long Uses { get; set; }
    }
}
