using System.Net;
using NSubstitute;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Pooling;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// Real connected loopback sockets wrapped as <see cref="PooledConnection"/>s, from a client port
/// slice of their own, for the tests of the pool's parts (idle store, waiter line) that need
/// connections but no pool.
/// </summary>
internal sealed class TestConnections : IAsyncDisposable
{
    private readonly LoopbackServer _server = new();
    private readonly SocketConnector _connector = new(TestKernel.Create(), PortSlices.Next(32));
    private readonly List<PooledConnection> _made = [];

    public TestConnections()
    {
        Ledger = new TupleLedger(new ConnectionTuple(TestSources.S2, _server.EndPoint), 32, TimeSpan.Zero, TimeProvider.System);
    }

    public TupleLedger Ledger { get; }

    /// <summary>Where every connection goes when its lease ends.</summary>
    public IConnectionOwner Owner { get; } = Substitute.For<IConnectionOwner>();

    public async Task<PooledConnection[]> MakeAsync(int count)
    {
        var made = new PooledConnection[count];
        for (var i = 0; i < count; i++)
        {
            var socket = await _connector.ConnectAsync(TestSources.S2, _server.EndPoint, default);
            Assert.True(Ledger.TryReserve());
            made[i] = new PooledConnection(socket, new ConnectionCharge(Ledger), Owner, createdAt: i);
            _made.Add(made[i]);
        }

        return made;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _made)
        {
            connection.Socket.LingerState = new System.Net.Sockets.LingerOption(true, 0);
            connection.Socket.Dispose();
        }

        await _server.DisposeAsync();
    }
}
