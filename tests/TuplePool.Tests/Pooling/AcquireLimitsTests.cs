using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Connecting;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Pooling;

/// <summary>
/// The time limits of an acquire, on a fake clock with a scripted connector (nothing leaves the
/// process): no acquire outlives AcquireTimeout, connecting included; a shorter bound of the
/// caller's is kept; the pool's disposal ends connects in flight; retries never spin.
/// </summary>
public sealed class AcquireLimitsTests
{
    private static readonly IPEndPoint Destination = new(IPAddress.Parse("127.0.0.1"), 9);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new();
    private readonly ScriptedConnector _connector = new();

    private SocketPool CreateSut(Action<TuplePoolOptions>? configure = null, int sources = 1, int capacity = 10)
    {
        var options = new TuplePoolOptions
        {
            SourceAddresses = TestSources.Take(sources),
            LocalPortRange = new PortRange(40000, 40000 + capacity - 1),
            AcquireTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            CloseMode = CloseMode.Abortive,
        };
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, _connector, Substitute.For<IKernelCensus>(), TestKernel.Create(twReuse: 0));
    }

    [Fact]
    public async Task ConnectLongerThanAcquireTimeout_TheAcquireEndsAtAcquireTimeout_NamingIt()
    {
        _connector.Script(Destination, ConnectScript.Hang);
        await using var pool = CreateSut();

        var acquire = pool.AcquireAsync(Destination).AsTask();
        await _connector.CalledAsync(1);
        _time.Advance(TimeSpan.FromSeconds(2));

        var error = await Assert.ThrowsAsync<SocketException>(() => acquire.WaitAsync(Bound));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        Assert.Contains("AcquireTimeout", error.Message, StringComparison.Ordinal);
        Assert.True(_connector.Calls[0].Token.IsCancellationRequested);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task WaitedForRoom_DeadlineCutsTheConnectItFinallyGotRoomFor_TheTypedRefusal()
    {
        _connector.Script(Destination, ConnectScript.Connect);
        await using var pool = CreateSut(capacity: 1);
        var holder = await pool.AcquireAsync(Destination);
        _connector.Script(Destination, ConnectScript.Hang);

        var waiting = pool.AcquireAsync(Destination).AsTask();
        await PoolWait.UntilAsync(() => pool.GetSnapshot().PendingAcquires == 1);
        _time.Advance(TimeSpan.FromSeconds(1.5));
        holder.Invalidate();
        holder.Dispose(); // room: the waiter connects, into a SYN nobody answers
        await _connector.CalledAsync(2);
        _time.Advance(TimeSpan.FromSeconds(0.5));

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting.WaitAsync(Bound));
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task ShorterBoundOfTheCaller_ExhaustedAtItsBound_NotAtAcquireTimeout()
    {
        _connector.Script(Destination, ConnectScript.Connect);
        await using var pool = CreateSut(o => o.AcquireTimeout = TimeSpan.FromSeconds(30), capacity: 1);
        using var holder = await pool.AcquireAsync(Destination);

        var waiting = pool.AcquireForHttpAsync(Destination, TimeSpan.FromSeconds(1), default).AsTask();
        await PoolWait.UntilAsync(() => pool.GetSnapshot().PendingAcquires == 1);
        _time.Advance(TimeSpan.FromSeconds(1));

        await Assert.ThrowsAsync<TupleBudgetExhaustedException>(() => waiting.WaitAsync(Bound));
    }

    [Fact]
    public async Task DisposeAsync_ConnectInFlight_EndsWithObjectDisposedAtOnce_NothingCharged()
    {
        _connector.Script(Destination, ConnectScript.Hang);
        var pool = CreateSut(o => o.AcquireTimeout = Timeout.InfiniteTimeSpan);

        var acquire = pool.AcquireAsync(Destination).AsTask();
        await _connector.CalledAsync(1);
        await pool.DisposeAsync(); // no time passes: only the disposal can end the connect

        await Assert.ThrowsAsync<ObjectDisposedException>(() => acquire.WaitAsync(Bound));
        Assert.True(_connector.Calls[0].Token.IsCancellationRequested);
        Assert.All(pool.GetSnapshot().Tuples, t => Assert.Equal(0, t.Active));
    }

    [Fact]
    public async Task ManyAttemptsAllowed_TheOnlySourceTimesOut_OneAttemptThenTheTimeout()
    {
        _connector.Script(Destination, ConnectScript.Hang);
        await using var pool = CreateSut(o =>
        {
            o.MaxConnectAttempts = 100;
            o.ConnectTimeout = TimeSpan.FromSeconds(1);
            o.TotalConnectTimeout = Timeout.InfiniteTimeSpan;
            o.AcquireTimeout = Timeout.InfiniteTimeSpan;
        });

        var acquire = pool.AcquireAsync(Destination).AsTask();
        await _connector.CalledAsync(1);
        _time.Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<SocketException>(() => acquire.WaitAsync(Bound));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        Assert.Contains("ConnectTimeout", error.Message, StringComparison.Ordinal);
        Assert.Single(_connector.Calls); // no source left to try: the open ends, it does not spin
    }

    [Fact]
    public async Task ManyAttemptsAllowed_TwoSourcesTimeOut_EachTriedOnceThenTheTimeout()
    {
        _connector.Script(Destination, ConnectScript.Hang);
        await using var pool = CreateSut(
            o =>
            {
                o.MaxConnectAttempts = 100;
                o.ConnectTimeout = TimeSpan.FromSeconds(1);
                o.TotalConnectTimeout = Timeout.InfiniteTimeSpan;
                o.AcquireTimeout = Timeout.InfiniteTimeSpan;
            },
            sources: 2);

        var acquire = pool.AcquireAsync(Destination).AsTask();
        await _connector.CalledAsync(1);
        _time.Advance(TimeSpan.FromSeconds(1));
        await _connector.CalledAsync(2); // the first retry goes at once, on the other source
        _time.Advance(TimeSpan.FromSeconds(1));

        var error = await Assert.ThrowsAsync<SocketException>(() => acquire.WaitAsync(Bound));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        Assert.Equal(2, _connector.Calls.Count);
        Assert.NotEqual(_connector.Calls[0].Source, _connector.Calls[1].Source);
    }

    [Fact]
    public async Task CallerCancelsWhileWaitingForRoom_CanceledWithTheBudgetInside_CountedAsARefusal()
    {
        _connector.Script(Destination, ConnectScript.Connect);
        await using var pool = CreateSut(capacity: 1);
        using var holder = await pool.AcquireAsync(Destination);
        using var cts = new CancellationTokenSource();

        var waiting = pool.AcquireAsync(Destination, cts.Token).AsTask();
        await PoolWait.UntilAsync(() => pool.GetSnapshot().PendingAcquires == 1);
        await cts.CancelAsync();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.WaitAsync(Bound));
        Assert.Equal(cts.Token, error.CancellationToken);
        var budget = Assert.IsType<TupleBudgetExhaustedException>(error.InnerException);
        Assert.Equal(1, Assert.Single(budget.Usage).Active);
        Assert.Equal(1, pool.GetSnapshot().RefusedAcquires);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(1, 25)]
    [InlineData(2, 50)]
    [InlineData(5, 400)]
    [InlineData(6, 1000)]
    [InlineData(1000, 1000)]
    public void RetryDelay_FirstRetryAtOnce_ThenBacksOffUpToASecond(int retry, int milliseconds)
        => Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), ConnectionOpener.RetryDelay(retry));
}
