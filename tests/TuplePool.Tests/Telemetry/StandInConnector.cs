using System.Net;
using System.Net.Sockets;
using TuplePool.Connecting;

namespace TuplePool.Tests.Telemetry;

/// <summary>
/// An <see cref="ISocketConnector"/> for tests that need many tuples but no traffic: each connect
/// "succeeds" at once with an unconnected socket standing in (nothing is sent anywhere), unless
/// <see cref="Fail"/> says the attempt from a source fails, then it throws what that returns.
/// </summary>
internal sealed class StandInConnector : ISocketConnector
{
    private int _calls;

    /// <summary>What an attempt from a source to a destination throws; null connects.</summary>
    public Func<IPAddress, IPEndPoint, int, Exception?> Fail { get; init; } = static (_, _, _) => null;

    public int Calls => Volatile.Read(ref _calls);

    public ValueTask<Socket> ConnectAsync(IPAddress source, IPEndPoint destination, CancellationToken cancellationToken)
    {
        var call = Interlocked.Increment(ref _calls);
        if (Fail(source, destination, call) is { } error)
        {
            return ValueTask.FromException<Socket>(error);
        }

        return ValueTask.FromResult(new Socket(destination.AddressFamily, SocketType.Stream, ProtocolType.Tcp));
    }
}
