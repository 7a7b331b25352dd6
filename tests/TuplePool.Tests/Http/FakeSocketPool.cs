using System.Collections.Concurrent;
using System.Net;

namespace TuplePool.Tests.Http;

/// <summary>
/// A pool that records each acquire and fails it with <see cref="TupleBudgetExhaustedException"/>,
/// so HttpClient's handling of the callback can be observed without opening a socket.
/// </summary>
internal sealed class FakeSocketPool : ISocketPool
{
    public ConcurrentQueue<EndPoint> Acquired { get; } = new();

    public ValueTask<SocketLease> AcquireAsync(EndPoint destination, CancellationToken cancellationToken = default)
    {
        Acquired.Enqueue(destination);
        return ValueTask.FromException<SocketLease>(new TupleBudgetExhaustedException(destination, []));
    }

    public ValueTask<int> WarmAsync(EndPoint destination, int count, CancellationToken cancellationToken = default)
        => ValueTask.FromException<int>(new TupleBudgetExhaustedException(destination, []));

    public TuplePoolSnapshot GetSnapshot() => new([]);

    public ValueTask DisposeAsync() => default;
}
