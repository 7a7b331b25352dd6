using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using NSubstitute;
using Polly;
using TuplePool.Budget;
using TuplePool.Connecting;
using TuplePool.Platform;
using TuplePool.Tests.Support;

namespace TuplePool.Tests.Connecting;

/// <summary>
/// Every address in order, and Happy Eyeballs (RFC 8305) when both families are present: the
/// order of attempts, the Connection Attempt Delay on a fake clock, the winner, the cancelled
/// losers and their tuples, the one error naming every address, and TotalConnectTimeout. The
/// connector is scripted, so no packet is sent; real sockets are in <see cref="ConnectionOpenerLoopbackTests"/>.
/// </summary>
public sealed class AddressRaceTests
{
    private static readonly IPEndPoint V6A = new(IPAddress.IPv6Loopback, 20001);
    private static readonly IPEndPoint V6B = new(IPAddress.IPv6Loopback, 20002);
    private static readonly IPEndPoint V4A = new(IPAddress.Loopback, 20001);
    private static readonly IPEndPoint V4B = new(IPAddress.Loopback, 20002);

    private readonly FakeTimeProvider _time = new();
    private readonly ScriptedConnector _connector = new();

    private SocketPool CreateSut(Action<TuplePoolOptions>? configure = null)
    {
        var options = new TuplePoolOptions
        {
            LocalPortRange = PortSlices.Next(10),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            TotalConnectTimeout = TimeSpan.FromSeconds(30),
            HappyEyeballsDelay = TimeSpan.FromMilliseconds(250),
        };
        configure?.Invoke(options);
        return new SocketPool(options, _time, null, null, _connector, Substitute.For<IKernelCensus>(), TestKernel.Create());
    }

    /// <summary>Real-time bound on every wait, so a broken race fails the test instead of hanging it.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    /// <summary>Opens over <paramref name="addresses"/> and waits (bounded) for the outcome: for races the clock need not move in.</summary>
    private static Task<OpenedConnection?> OpenAsync(SocketPool pool, params IPEndPoint[] addresses)
        => pool.Opener.OpenAsync(addresses, ResiliencePipeline.Empty, default).AsTask().WaitAsync(Bound);

    /// <summary>Starts an open and returns it once the first attempt has reached the connector, so the test can move the clock.</summary>
    private Task<Task<OpenedConnection?>> StartAsync(SocketPool pool, params IPEndPoint[] addresses)
        => StartAsync(pool, CancellationToken.None, addresses);

    private async Task<Task<OpenedConnection?>> StartAsync(SocketPool pool, CancellationToken cancellationToken, params IPEndPoint[] addresses)
    {
        var open = pool.Opener.OpenAsync(addresses, ResiliencePipeline.Empty, cancellationToken).AsTask();
        await _connector.CalledAsync(1);
        return open;
    }

    private static int ActiveOn(SocketPool pool, IPEndPoint destination)
        => pool.GetSnapshot().Tuples.Where(t => t.Destination.Equals(destination)).Sum(t => t.Active);

    /// <summary>
    /// Asserts the open gave a connection to <paramref name="destination"/>; disposing the result
    /// closes it and gives its tuple back (also when a later assert fails).
    /// </summary>
    private static Winner AssertWon(OpenedConnection? opened, IPEndPoint destination)
    {
        Assert.NotNull(opened);
        Assert.Equal(destination, opened.Charge.Tuple.Destination);
        return new Winner(opened);
    }

    /// <summary>Asserts the open failed with TimedOut because TotalConnectTimeout ran out; returns the error.</summary>
    private static async Task<SocketException> AssertTotalTimeoutAsync(Task<OpenedConnection?> open)
    {
        var error = await Assert.ThrowsAsync<SocketException>(() => open.WaitAsync(Bound));
        Assert.Equal(SocketError.TimedOut, error.SocketErrorCode);
        Assert.Contains("TotalConnectTimeout", error.Message, StringComparison.Ordinal);
        return error;
    }

    [Fact]
    public void Order_BothFamilies_InterleavesStartingWithIPv6()
    {
        var order = AddressRace.Order([V4A, V4B, V6A, V6B], out var both);

        Assert.True(both);
        Assert.Equal([V6A, V4A, V6B, V4B], order);
    }

    [Fact]
    public void Order_OneFamily_KeepsTheResolverOrder()
    {
        var order = AddressRace.Order([V4B, V4A], out var both);

        Assert.False(both);
        Assert.Equal([V4B, V4A], order);
    }

    [Fact]
    public void Order_WithHistory_RememberedAddressesGoLast_AndTheFirstFamilyIsTheOneThatWorks()
    {
        var history = new AddressHistory(_time);
        history.Failed(V6A);
        history.Failed(V6B);

        var order = AddressRace.Order([V6A, V6B, V4A, V4B], history, _time.GetTimestamp(), out var both);

        Assert.True(both);
        Assert.Equal([V4A, V4B, V6A, V6B], order);
    }

    [Fact]
    public void Order_WithHistory_OneRememberedIPv6Address_TheOtherIPv6AddressLeads()
    {
        var history = new AddressHistory(_time);
        history.Failed(V6A);

        var order = AddressRace.Order([V6A, V6B, V4A, V4B], history, _time.GetTimestamp(), out _);

        Assert.Equal([V6B, V4A, V4B, V6A], order);
    }

    [Fact]
    public async Task Stagger_FirstUnanswered_NextStartsAfterTheDelayAndWins_LoserCancelledAndReleased()
    {
        _connector.Script(V6A, ConnectScript.Hang).Script(V4A, ConnectScript.Connect);
        await using var pool = CreateSut();

        var open = await StartAsync(pool, V4A, V6A);
        _time.Advance(TimeSpan.FromMilliseconds(249));
        Assert.Single(_connector.Calls);
        Assert.Equal(1, ActiveOn(pool, V6A));

        _time.Advance(TimeSpan.FromMilliseconds(1));
        using var won = AssertWon(await open.WaitAsync(Bound), V4A);

        Assert.Equal([V6A, V4A], _connector.Calls.Select(c => c.Destination));
        Assert.True(_connector.Calls[0].Token.IsCancellationRequested, "the IPv6 attempt must be cancelled once IPv4 wins");
        Assert.Equal(0, ActiveOn(pool, V6A));
        Assert.Equal(1, ActiveOn(pool, V4A));
    }

    [Fact]
    public async Task Stagger_FirstRefused_NextStartsAtOnceWithoutWaitingForTheDelay()
    {
        _connector.Script(V6A, ConnectScript.Refuse).Script(V4A, ConnectScript.Connect);
        await using var pool = CreateSut();

        using var won = AssertWon(await OpenAsync(pool, V6A, V4A), V4A);

        Assert.Equal(0, ActiveOn(pool, V6A));
    }

    [Fact]
    public async Task Stagger_EveryAddressRefused_OneErrorNamingEachAddressInTheOrderTried()
    {
        await using var pool = CreateSut();

        var error = await Assert.ThrowsAsync<SocketException>(() => OpenAsync(pool, V4A, V4B, V6A, V6B));

        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
        Assert.Equal([V6A, V4A, V6B, V4B], _connector.Calls.Select(c => c.Destination));
        var positions = new[] { V6A, V4A, V6B, V4B }.Select(a => error.Message.IndexOf($"{a}:", StringComparison.Ordinal)).ToArray();
        Assert.All(positions, p => Assert.True(p >= 0, error.Message));
        Assert.Equal(positions.Order(), positions);
        Assert.Contains("refused", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
        Assert.IsNotType<AggregateException>(error.InnerException);
    }

    [Fact]
    public async Task Sequential_WhenHappyEyeballsIsOff_NextAddressOnlyAfterTheFirstTimesOut()
    {
        _connector.Script(V6A, ConnectScript.Hang).Script(V4A, ConnectScript.Connect);
        await using var pool = CreateSut(o => o.HappyEyeballsDelay = Timeout.InfiniteTimeSpan);

        var open = await StartAsync(pool, V6A, V4A);
        _time.Advance(TimeSpan.FromSeconds(9.9));
        Assert.Single(_connector.Calls);

        _time.Advance(TimeSpan.FromSeconds(0.1));
        using var won = AssertWon(await open.WaitAsync(Bound), V4A);

        Assert.Equal(0, ActiveOn(pool, V6A));
    }

    [Fact]
    public async Task OneFamily_FirstRefused_SecondServes()
    {
        _connector.Script(V4A, ConnectScript.Refuse).Script(V4B, ConnectScript.Connect);
        await using var pool = CreateSut();

        using var won = AssertWon(await OpenAsync(pool, V4A, V4B), V4B);
    }

    [Fact]
    public async Task Cancellation_WhileBothFamiliesAreTrying_ThrowsAndLeavesEveryTupleAsItWas()
    {
        _connector.Script(V6A, ConnectScript.Hang).Script(V4A, ConnectScript.Hang);
        await using var pool = CreateSut();
        using var cancel = new CancellationTokenSource();

        var open = await StartAsync(pool, cancel.Token, V6A, V4A);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        await _connector.CalledAsync(2);
        Assert.Equal(2, pool.GetSnapshot().TotalActive);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => open.WaitAsync(Bound));
        Assert.All(_connector.Calls, c => Assert.True(c.Token.IsCancellationRequested));
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
        Assert.Equal(0, pool.GetSnapshot().TotalTimeWait);
    }

    [Fact]
    public async Task Stagger_LoserThatConnectsAfterTheWinner_IsClosedAndReleasedBeforeTheOpenReturns()
    {
        _connector.Script(V6A, ConnectScript.HoldIgnoringCancel).Script(V4A, ConnectScript.Connect);
        await using var pool = CreateSut();

        var open = await StartAsync(pool, V6A, V4A);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        await _connector.CalledAsync(2);
        Assert.False(open.IsCompleted, "the winner waits for the loser to give its tuple back");
        _connector.Complete(V6A);
        using var won = AssertWon(await open.WaitAsync(Bound), V4A);

        Assert.True(_connector.Calls[0].Socket!.SafeHandle.IsClosed);
        Assert.Equal(0, ActiveOn(pool, V6A));
    }

    [Fact]
    public async Task TotalConnectTimeout_BoundsEveryAttempt_AndNamesTheAddressesLeftUntried()
    {
        _connector.Script(V4A, ConnectScript.Hang).Script(V4B, ConnectScript.Hang);
        await using var pool = CreateSut(o => o.TotalConnectTimeout = TimeSpan.FromSeconds(2));

        var open = await StartAsync(pool, V4A, V4B);
        _time.Advance(TimeSpan.FromSeconds(2));

        var error = await AssertTotalTimeoutAsync(open);
        Assert.Contains($"{V4B}: not tried", error.Message, StringComparison.Ordinal);
        Assert.Single(_connector.Calls);
        Assert.Equal(0, pool.GetSnapshot().TotalActive);
    }

    [Fact]
    public async Task TotalConnectTimeout_ShorterThanConnectTimeout_BoundsASingleAddressToo()
    {
        _connector.Script(V4A, ConnectScript.Hang);
        await using var pool = CreateSut(o => o.TotalConnectTimeout = TimeSpan.FromSeconds(1));

        var open = await StartAsync(pool, V4A);
        _time.Advance(TimeSpan.FromSeconds(1));

        await AssertTotalTimeoutAsync(open);
    }

    [Fact]
    public async Task UserStrategies_WrapTheWholeOpen_SeeingOneOutcomeForAllAddresses()
    {
        _connector.Script(V6A, ConnectScript.Refuse).Script(V4A, ConnectScript.Connect);
        var outcomes = new List<bool>();
        await using var pool = CreateSut(o => o.ConfigureConnectPipeline = (builder, _) => builder.AddStrategy(
            _ => new RecordingStrategy(outcomes), new RecordingStrategyOptions()));

        var opened = await pool.Opener.OpenAsync([V6A, V4A], pool.Opener.CreatePipeline(V4A), default).AsTask().WaitAsync(Bound);

        using var won = AssertWon(opened, V4A);
        Assert.Equal([true], outcomes);
    }

    [Fact]
    public async Task History_AnIPv6AddressThatNeverAnswered_IsTriedAfterTheIPv4AddressThatWon_OnTheNextOpen()
    {
        _connector.Script(V6A, ConnectScript.Hang).Script(V4A, ConnectScript.Connect);
        await using var pool = CreateSut();
        var first = await StartAsync(pool, V6A, V4A);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        AssertWon(await first.WaitAsync(Bound), V4A).Dispose();

        // The clock stands still: an open that started with V6A again would wait for the delay.
        using var second = AssertWon(await OpenAsync(pool, V6A, V4A), V4A);

        Assert.Equal([V6A, V4A, V4A], _connector.Calls.Select(c => c.Destination));
    }

    [Fact]
    public async Task History_ARefusedAddress_IsTriedLastOnTheNextOpen()
    {
        _connector.Script(V4A, ConnectScript.Refuse).Script(V4B, ConnectScript.Connect);
        await using var pool = CreateSut();
        AssertWon(await OpenAsync(pool, V4A, V4B), V4B).Dispose();

        using var second = AssertWon(await OpenAsync(pool, V4A, V4B), V4B);

        Assert.Equal([V4A, V4B, V4B], _connector.Calls.Select(c => c.Destination));
    }

    [Fact]
    public async Task History_IsForgottenAfterItsTime_AndTheSilentAddressIsTriedFirstAgain()
    {
        _connector.Script(V6A, ConnectScript.Hang).Script(V4A, ConnectScript.Connect);
        await using var pool = CreateSut();
        var first = await StartAsync(pool, V6A, V4A);
        _time.Advance(TimeSpan.FromMilliseconds(250));
        AssertWon(await first.WaitAsync(Bound), V4A).Dispose();

        _time.Advance(AddressHistory.RememberFor);
        _connector.Script(V6A, ConnectScript.Connect); // repaired meanwhile
        using var third = AssertWon(await OpenAsync(pool, V6A, V4A), V6A);

        Assert.Equal([V6A, V4A, V6A], _connector.Calls.Select(c => c.Destination));
        Assert.False(pool.Opener.Race.History.IsRemembered(V6A, _time.GetTimestamp()));
    }

    [Fact]
    public async Task History_CallerCancelsTheRace_NothingIsHeldAgainstTheAddresses()
    {
        _connector.Script(V6A, ConnectScript.Hang).Script(V4A, ConnectScript.Hang);
        await using var pool = CreateSut();
        using var cancel = new CancellationTokenSource();
        var open = await StartAsync(pool, cancel.Token, V6A, V4A);
        _time.Advance(TimeSpan.FromMilliseconds(500));
        await _connector.CalledAsync(2);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => open.WaitAsync(Bound));

        Assert.Equal(0, pool.Opener.Race.History.Count);
    }

    [Fact]
    public async Task History_NoFreePort_IsNotHeldAgainstTheAddress()
    {
        _connector.Script(V4A, ConnectScript.Connect).Script(V4B, ConnectScript.Connect);
        await using var pool = CreateSut(o => o.LocalPortRange = PortSlices.Next(1));
        using var held = AssertWon(await OpenAsync(pool, V4A), V4A); // V4A's only port taken

        using var second = AssertWon(await OpenAsync(pool, V4A, V4B), V4B);

        Assert.False(pool.Opener.Race.History.IsRemembered(V4A, _time.GetTimestamp()));
    }

    /// <summary>The connection an open gave; disposing it closes the socket and frees its tuple.</summary>
    private sealed class Winner(OpenedConnection opened) : IDisposable
    {
        public void Dispose() => opened.Dispose();
    }

    private sealed class RecordingStrategyOptions : ResilienceStrategyOptions;

    private sealed class RecordingStrategy(List<bool> outcomes) : ResilienceStrategy
    {
        protected override async ValueTask<Outcome<TResult>> ExecuteCore<TResult, TState>(
            Func<ResilienceContext, TState, ValueTask<Outcome<TResult>>> callback, ResilienceContext context, TState state)
        {
            var outcome = await callback(context, state).ConfigureAwait(context.ContinueOnCapturedContext);
            outcomes.Add(outcome.Exception is null);
            return outcome;
        }
    }
}
