using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using TuplePool.Budget;
using TuplePool.Internal;
using TuplePool.Platform;
using TuplePool.Sources;
using TuplePool.Telemetry;

namespace TuplePool.Connecting;

/// <summary>
/// Turns "connect to one of these addresses" into a budgeted connection. For each address it
/// picks the source with room, charges that tuple, and connects within the open's
/// <see cref="ConnectLimits"/> (each attempt's <c>ConnectTimeout</c>, one deadline over all of
/// them), retried by TuplePool's own Polly pipeline on another source for address errors, sources
/// that cannot bind and timed-out attempts. Several addresses are tried in order, or raced with
/// Happy Eyeballs when both families are present (<see cref="AddressRace"/>); the user's
/// <c>ConfigureConnectPipeline</c> strategies wrap the whole open. Returns null when no tuple has
/// room, so the pool can queue the caller.
/// </summary>
/// <remarks>
/// Every attempt needs a source it has not tried in this open: each failure that moves to another
/// source leaves its own out, so the retries of one open are bounded by the sources there are,
/// whatever <see cref="TuplePoolOptions.MaxConnectAttempts"/> says, and they back off after the
/// first. The single-address path — most destinations — is one pass through the attempt pipeline
/// with a reused <see cref="AddressAttempt"/> and its reused timeout: no list, no race.
/// </remarks>
internal sealed class ConnectionOpener
{
    /// <summary>How long a census correction keeps a tuple charged before the pool tries it again.</summary>
    internal static readonly TimeSpan KernelCorrectionHold = TimeSpan.FromSeconds(1);

    /// <summary>The delay before the second retry of one open; it doubles for each one after, up to <see cref="MaxRetryDelay"/>. The first retry goes at once.</summary>
    internal static readonly TimeSpan RetryBackoff = TimeSpan.FromMilliseconds(25);

    internal static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private static readonly ResiliencePropertyKey<AddressAttempt> AttemptKey = new("TuplePool.AddressAttempt");

    private readonly SourceSelector _selector;
    private readonly ISocketConnector _connector;
    private readonly IKernelCensus _census;
    private readonly TuplePoolMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly TuplePoolOptions _options;
    private readonly CancellationToken _disposing;
    private readonly ResiliencePipeline _attemptPipeline;
    private readonly AddressAttempt?[] _spareAttempts = new AddressAttempt?[Math.Min(16, Environment.ProcessorCount * 2)];
    private readonly KeyedEventThrottle<ConnectionTuple> _nearlyFullLog = new(); // log event 3, per tuple

    public ConnectionOpener(
        SourceSelector selector,
        ISocketConnector connector,
        IKernelCensus census,
        TuplePoolMetrics metrics,
        ILogger logger,
        TimeProvider timeProvider,
        TuplePoolOptions options,
        CancellationToken disposing = default)
    {
        _selector = selector;
        _connector = connector;
        _census = census;
        _metrics = metrics;
        _logger = logger;
        _timeProvider = timeProvider;
        _options = options;
        _disposing = disposing;
        _attemptPipeline = CreateAttemptPipeline();
        Race = new AddressRace(this, timeProvider, options.HappyEyeballsDelay);
    }

    internal TuplePoolOptions Options => _options;

    internal TimeProvider TimeProvider => _timeProvider;

    internal AddressRace Race { get; }

    /// <summary>
    /// The user's strategies for one destination (<see cref="TuplePoolOptions.ConfigureConnectPipeline"/>),
    /// run around the whole open — every address and attempt of one new connection — so a circuit
    /// breaker added there sees one outcome per new connection. <see cref="ResiliencePipeline.Empty"/>
    /// when there are none, which <see cref="OpenAsync(IReadOnlyList{IPEndPoint}, ResiliencePipeline, long, CancellationToken)"/> skips.
    /// </summary>
    public ResiliencePipeline CreatePipeline(EndPoint destination)
    {
        if (_options.ConfigureConnectPipeline is not { } configure)
        {
            return ResiliencePipeline.Empty;
        }

        var builder = new ResiliencePipelineBuilder { TimeProvider = _timeProvider, Name = "TuplePool.Connect" };
        configure(builder, destination);
        return builder.Build();
    }

    /// <summary>
    /// Opens a connection to one of <paramref name="addresses"/>, or returns null when no source
    /// has room on any of them. Throws <see cref="SocketException"/> naming each tuple tried for
    /// refused, unreachable and timed-out connects, and for sources that cannot be bound at all;
    /// <see cref="ObjectDisposedException"/> when the pool was disposed meanwhile.
    /// </summary>
    /// <param name="addresses">The destination's addresses.</param>
    /// <param name="pipeline">The user's strategies (<see cref="CreatePipeline"/>).</param>
    /// <param name="acquireDeadline">When the acquire this open serves must be done (a timestamp; <see cref="long.MaxValue"/> for never): no attempt outlives it.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    public ValueTask<OpenedConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, ResiliencePipeline pipeline, long acquireDeadline, CancellationToken cancellationToken)
    {
        var limits = ConnectLimits.Start(_options, _timeProvider, _timeProvider.GetTimestamp(), acquireDeadline);
        return ReferenceEquals(pipeline, ResiliencePipeline.Empty)
            ? OpenCoreAsync(addresses, limits, scope: null, cancellationToken)
            : OpenWithStrategiesAsync(addresses, pipeline, limits, cancellationToken);
    }

    /// <summary>For tests: an open bounded only by the options.</summary>
    public ValueTask<OpenedConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, ResiliencePipeline pipeline, CancellationToken cancellationToken)
        => OpenAsync(addresses, pipeline, long.MaxValue, cancellationToken);

    private async ValueTask<OpenedConnection?> OpenWithStrategiesAsync(IReadOnlyList<IPEndPoint> addresses, ResiliencePipeline pipeline, ConnectLimits limits, CancellationToken cancellationToken)
    {
        var scope = new OpenScope();
        OpenedConnection? kept = null;
        try
        {
            kept = await pipeline.ExecuteAsync(
                static (state, ct) => state.Opener.OpenCoreAsync(state.Addresses, state.Limits, state.Scope, ct),
                (Opener: this, Addresses: addresses, Limits: limits, Scope: scope),
                cancellationToken).ConfigureAwait(false);
            return kept;
        }
        finally
        {
            scope.Complete(kept);
        }
    }

    private ValueTask<OpenedConnection?> OpenCoreAsync(IReadOnlyList<IPEndPoint> addresses, ConnectLimits limits, OpenScope? scope, CancellationToken cancellationToken)
        => addresses.Count == 1
            ? ConnectAddressAsync(addresses[0], limits, scope, cancellationToken)
            : Race.OpenAsync(addresses, limits, scope, cancellationToken);

    /// <summary>
    /// One address: a source with room, a charged tuple, the connect, retried on another source
    /// for address errors and timeouts. Null when no source has room; <see cref="SocketException"/>
    /// naming the tuple for every other failure; <see cref="OperationCanceledException"/> when
    /// cancelled; <see cref="ObjectDisposedException"/> when the pool was disposed meanwhile.
    /// </summary>
    internal async ValueTask<OpenedConnection?> ConnectAddressAsync(IPEndPoint address, ConnectLimits limits, OpenScope? scope, CancellationToken cancellationToken)
    {
        var attempt = RentAttempt();
        attempt.Start(address, limits, scope);
        var span = TuplePoolTracing.StartConnect(_metrics.PoolName, address); // null unless the TuplePool source is listened to
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(AttemptKey, attempt);
        try
        {
            OpenedConnection? opened;
            try
            {
                opened = await _attemptPipeline.ExecuteAsync(
                    static (ctx, state) => state.Opener.AttemptAsync(state, ctx.CancellationToken),
                    context,
                    attempt).ConfigureAwait(false);
            }
            catch (SourceBindException e)
            {
                throw NewSocketException(e.SocketErrorCode, e.Message);
            }
            catch (SocketException e) when (IsAddressError(e))
            {
                // Every attempt met a tuple the kernel says is full; the ledgers now know, so the
                // caller waits for room like any other caller without budget.
                return null;
            }
            catch (SocketException e)
            {
                throw NewSocketException(e.SocketErrorCode, $"{e.Message} (connecting {attempt.Describe()})");
            }
            catch (ConnectAttemptTimedOutException e)
            {
                throw TimedOut(attempt, e.Limit, e.Timeout);
            }
            catch (OperationCanceledException) when (_disposing.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ObjectDisposedException("SocketPool", "The pool was disposed while this connection was being opened.");
            }

            if (opened is null && _selector.AllQuarantined(address.Address))
            {
                // Not a full budget but a misconfiguration: no source of this family can be bound.
                throw attempt.LastBindError is { } bindError
                    ? NewSocketException(bindError.SocketErrorCode, bindError.Message)
                    : NewSocketException(
                        SocketError.AddressNotAvailable,
                        $"Every source address for {attempt.Describe()} failed to bind and is left out for {_options.SourceQuarantine} (TuplePoolOptions.SourceQuarantine); check TuplePoolOptions.SourceAddresses.");
            }

            TuplePoolTracing.ConnectEnded(span, opened?.Socket);
            return opened;
        }
        catch (Exception e)
        {
            TuplePoolTracing.ConnectFailed(span, e);
            throw;
        }
        finally
        {
            TuplePoolTracing.StopConnect(span);
            ResilienceContextPool.Shared.Return(context);
            ReturnAttempt(attempt);
        }
    }

    /// <summary>True when the open's deadline has passed.</summary>
    internal bool IsPast(in ConnectLimits limits) => limits.HasDeadline && limits.IsPast(_timeProvider.GetTimestamp());

    private ResiliencePipeline CreateAttemptPipeline()
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _timeProvider, Name = "TuplePool.ConnectAttempt" };
        if (_options.MaxConnectAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                Name = "TuplePool.RetryOnAnotherSource",
                MaxRetryAttempts = _options.MaxConnectAttempts - 1,
                // A timed-out attempt also moves on: a SYN black-holed on one source's path (a
                // firewall, a dead NAT mapping) is often answered from another. Not when the open's
                // deadline cut the attempt short (no time is left), and never without a source
                // this open has not tried: a retry always has somewhere new to go.
                ShouldHandle = static args => new ValueTask<bool>(
                    args.Outcome.Exception switch
                    {
                        SourceBindException => true,
                        SocketException e => IsAddressError(e),
                        ConnectAttemptTimedOutException e => e.AnotherSourceMayTry,
                        _ => false,
                    }
                    && args.Context.Properties.GetValue(AttemptKey, null!) is { } attempt
                    && attempt.Opener._selector.HasUntried(attempt.Address.Address, attempt.Excluded)),
                DelayGenerator = static args => new ValueTask<TimeSpan?>(RetryDelay(args.AttemptNumber)),
            });
        }

        return builder.Build();
    }

    /// <summary>The first retry at once (another source is usually free), then 25 ms doubling up to 1 s.</summary>
    internal static TimeSpan RetryDelay(int retry)
        => retry <= 0 ? TimeSpan.Zero
            : retry >= 6 ? MaxRetryDelay
            : TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, RetryBackoff.Ticks << (retry - 1)));

    private async ValueTask<OpenedConnection?> AttemptAsync(AddressAttempt attempt, CancellationToken cancellationToken)
    {
        var now = _timeProvider.GetTimestamp();
        var limits = attempt.Limits;
        if (limits.HasDeadline && limits.IsPast(now))
        {
            throw new ConnectAttemptTimedOutException(limits.DeadlineSetBy, TimeSpan.Zero, anotherSourceMayTry: false);
        }

        var charge = _selector.TryReserve(attempt.Address, attempt.Excluded, out var source);
        if (charge is null || source is null)
        {
            // After a timeout, "no other source with room" must not turn into "wait for room":
            // the timeout is what this open ran into, and no source is left to try.
            return attempt.TimedOut is { } timedOut ? throw new ConnectAttemptTimedOutException(timedOut.Limit, timedOut.Timeout, anotherSourceMayTry: false) : null;
        }

        var tuple = charge.Tuple;
        attempt.Current = tuple;
        TuplePoolTracing.AttemptStarted(tuple.Source);
        var (timeout, limit) = limits.ForAttempt(now, _timeProvider);
        var token = attempt.StartTimeout(timeout, cancellationToken, _disposing);
        Socket socket;
        try
        {
            // The tuple's source, not the source's: a prefix's charge names the address it lent.
            socket = await _connector.ConnectAsync(tuple.Source, tuple.Destination, token).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            var timedOut = e is OperationCanceledException && attempt.TimeoutFired && !cancellationToken.IsCancellationRequested && !_disposing.IsCancellationRequested;
            OnConnectFailed(e, attempt, source, charge);
            if (timedOut)
            {
                attempt.TimedOut = (limit, timeout);
                throw new ConnectAttemptTimedOutException(limit, timeout, anotherSourceMayTry: limit == ConnectLimit.ConnectTimeout);
            }

            throw;
        }
        finally
        {
            attempt.StopTimeout();
        }

        // From here the socket and its charge have one owner: whatever fails next disposes it.
        var opened = new OpenedConnection(socket, charge, source);
        attempt.Scope?.Track(opened);
        try
        {
            _metrics.RecordConnect(_timeProvider.GetElapsedTime(now), tuple);
            WarnWhenNearlyFull(charge.Local);
        }
        catch
        {
            // A listener's exception is the caller's to see; the connection must not be lost with it.
            opened.Dispose();
            throw;
        }

        return opened;
    }

    /// <summary>
    /// The connect of <paramref name="charge"/>'s tuple failed: the charge goes back (the one
    /// place it does before a connection exists), and what the error says is acted on — a source
    /// that cannot bind is quarantined, a tuple the kernel says is full is charged full for a
    /// moment, a source that timed out or failed is left out of this open's next attempt.
    /// </summary>
    private void OnConnectFailed(Exception error, AddressAttempt attempt, SourceAddress source, ConnectionCharge charge)
    {
        var tuple = charge.Tuple;
        try
        {
            attempt.Exclude(source);
            switch (error)
            {
                case SourceBindException bind:
                    attempt.LastBindError = bind;
                    if (_selector.Quarantine(source))
                    {
                        Log.SourceQuarantined(_logger, tuple.Source, bind.SocketErrorCode.ToString(), _options.SourceQuarantine);
                    }

                    _metrics.RecordConnectError(ErrorTypes.BindFailed, tuple);
                    TuplePoolTracing.AttemptFailed(tuple.Source, ErrorTypes.BindFailed);
                    break;
                case SocketException e when IsAddressError(e):
                    // The kernel knows of sockets on this tuple that the ledger does not (another
                    // process, or TIME_WAIT outliving its charge): the tuple is charged as full for
                    // the hold, before the failed attempt's port goes back; the census count, of
                    // sockets in our port search's range, is for the log.
                    var (kernelCount, kernelTimeWait) = CountInKernel(tuple);
                    var poolCount = charge.Local.CorrectFromKernel(KernelCorrectionHold, kernelTimeWait);
                    Log.KernelCorrection(_logger, tuple.Source, tuple.Destination, kernelCount, poolCount, KernelCorrectionHold);
                    _metrics.RecordConnectError("address_not_available", tuple);
                    TuplePoolTracing.AttemptFailed(tuple.Source, "address_not_available");
                    break;
                default:
                    _metrics.RecordConnectError(error, tuple);
                    TuplePoolTracing.AttemptFailed(tuple.Source, error);
                    break;
            }
        }
        finally
        {
            // Also when a metrics listener throws: the charge never outlives the failed connect.
            charge.Release(ReleaseKind.Free);
        }
    }

    private SocketException TimedOut(AddressAttempt attempt, ConnectLimit limit, TimeSpan timeout)
    {
        var shown = limit switch
        {
            ConnectLimit.TotalConnectTimeout => _options.TotalConnectTimeout,
            ConnectLimit.AcquireTimeout => _timeProvider.GetElapsedTime(attempt.OpenStarted),
            _ => timeout,
        };
        return NewSocketException(
            SocketError.TimedOut,
            string.Create(CultureInfo.InvariantCulture, $"Connecting {attempt.Describe()} timed out after {shown.TotalSeconds:0.###} s ({ConnectLimits.Describe(limit)})."));
    }

    private AddressAttempt RentAttempt()
    {
        var spares = _spareAttempts;
        for (var i = 0; i < spares.Length; i++)
        {
            if (Volatile.Read(ref spares[i]) is not null && Interlocked.Exchange(ref spares[i], null) is { } attempt)
            {
                return attempt;
            }
        }

        return new AddressAttempt(this);
    }

    private void ReturnAttempt(AddressAttempt attempt)
    {
        attempt.Clear();
        var spares = _spareAttempts;
        for (var i = 0; i < spares.Length; i++)
        {
            if (Volatile.Read(ref spares[i]) is null && Interlocked.CompareExchange(ref spares[i], attempt, null) is null)
            {
                return;
            }
        }

        attempt.Dispose();
    }

    /// <summary>The sockets on the tuple in our port search's range, and those in TIME_WAIT (a refusal names them apart: see <see cref="TupleLedger.CorrectFromKernel"/>).</summary>
    private (int Sockets, int TimeWait) CountInKernel(ConnectionTuple tuple)
    {
        try
        {
            // Only sockets in the range our sockets' port search walks stand in its way. One
            // question to the kernel for this tuple alone (netlink filters it there), not a read
            // of the whole table; the list is the error path's only allocation.
            var found = new List<KernelSocket>();
            if (!_census.TryQuery(tuple.Source, tuple.Destination, TcpStateMask.Connections, found))
            {
                return (0, 0);
            }

            var range = _selector.Budget.SearchRange;
            int sockets = 0, timeWait = 0;
            foreach (var socket in found)
            {
                if (range.Contains(socket.LocalPort))
                {
                    sockets++;
                    timeWait += socket.State == TcpState.TimeWait ? 1 : 0;
                }
            }

            return (sockets, timeWait);
        }
#pragma warning disable CA1031 // The census is advice on the error path; without it the tuple is treated as full.
        catch (Exception)
#pragma warning restore CA1031
        {
            return (0, 0);
        }
    }

    private void WarnWhenNearlyFull(TupleLedger ledger)
    {
        // Once per crossing, and at most once per EventThrottle.Interval for the tuple: during an
        // exhaustion kernel refusals make it cross again every second.
        if (ledger.Capacity > 0 && ledger.CrossedNinetyPercent()
            && _nearlyFullLog.TryPass(ledger.Tuple, _timeProvider.GetTimestamp(), Timestamps.ToTicks(EventThrottle.Interval, _timeProvider), out var suppressed))
        {
            Log.TupleNearlyExhausted(_logger, ledger.Tuple.Source, ledger.Tuple.Destination, ledger.Capacity - ledger.Remaining, ledger.Capacity, suppressed);
        }
    }

    internal static bool IsAddressError(SocketException e)
        => e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressAlreadyInUse;

    internal static SocketException NewSocketException(SocketError code, string message) => new((int)code, message);
}
