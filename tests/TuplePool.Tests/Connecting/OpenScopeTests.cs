using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Sources;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>The scope that closes what a user's strategies did not keep, and <see cref="OpenedConnection"/>'s one owner.</summary>
public sealed class OpenScopeTests : IAsyncDisposable
{
    private readonly LoopbackServer _server = new();
    private readonly TupleLedger _ledger;

    public OpenScopeTests()
        => _ledger = new TupleLedger(new ConnectionTuple(IPAddress.Loopback, _server.EndPoint), 8, TimeSpan.Zero, new FakeTimeProvider());

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<OpenedConnection> OpenAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(_server.EndPoint);
        Assert.True(_ledger.TryReserve());
        return new OpenedConnection(socket, new ConnectionCharge(_ledger), new SourceAddress(IPAddress.Loopback, isImplicit: false));
    }

    [Fact]
    public async Task Complete_ClosesEveryConnectionButTheKeptOne()
    {
        var scope = new OpenScope();
        var dropped = await OpenAsync();
        var kept = await OpenAsync();
        scope.Track(dropped);
        scope.Track(kept);

        scope.Complete(kept);

        Assert.True(dropped.Charge.IsReleased);
        Assert.Null(dropped.TakeOver());
        Assert.False(kept.Charge.IsReleased);
        Assert.Equal(1, _ledger.Open);
        kept.Dispose();
    }

    [Fact]
    public async Task Track_AfterComplete_ClosesTheLateArrivalAtOnce()
    {
        var scope = new OpenScope();
        scope.Complete(kept: null);
        var late = await OpenAsync();

        scope.Track(late);

        Assert.True(late.Charge.IsReleased);
        Assert.Equal(0, _ledger.Open);
    }

    [Fact]
    public async Task OpenedConnection_DisposedTwice_ReleasesOnce_TakeOverAfterwardsGivesNothing()
    {
        var opened = await OpenAsync();

        opened.Dispose();
        opened.Dispose();

        Assert.Equal(0, _ledger.Open);
        Assert.Null(opened.TakeOver());
        Assert.Throws<ObjectDisposedException>(() => opened.Socket);
    }

    [Fact]
    public async Task OpenedConnection_TakenOver_DisposeLeavesSocketAndChargeToTheNewOwner()
    {
        var opened = await OpenAsync();

        using var socket = opened.TakeOver();
        opened.Dispose();

        Assert.NotNull(socket);
        Assert.True(socket.Connected);
        Assert.Equal(1, _ledger.Open);
        Assert.True(opened.Charge.Release(ReleaseKind.Free));
    }
}
