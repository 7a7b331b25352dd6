using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using TuplePool.Budget;
using TuplePool.Platform;
using TuplePool.Sources;
using TuplePool.Telemetry;

namespace TuplePool.Connecting;

/// <summary>
/// Turns "connect to one of these addresses" into a budgeted connection. For each address it
/// picks the source with room, reserves that tuple, and connects inside TuplePool's own Polly
/// pipeline (retry on another source for address errors, per-attempt <c>ConnectTimeout</c>),
/// giving the reservation back when the connect fails. Several addresses are tried in order, or
/// raced with Happy Eyeballs when both families are present (<see cref="AddressRace"/>); the
/// user's <c>ConfigureConnectPipeline</c> strategies wrap the whole open. Returns null when no
/// tuple has room, so the pool can queue the caller.
/// </summary>
/// <remarks>
/// The single-address path — most destinations — is one pass through the attempt pipeline with
/// a reused <see cref="AddressAttempt"/>: no list, no race, no timer beyond Polly's own.
/// </remarks>
internal sealed class ConnectionOpener
{
    /// <summary>How long a census correction keeps a tuple charged before the pool tries it again.</summary>
    internal static readonly TimeSpan KernelCorrectionHold = TimeSpan.FromSeconds(1);

    /// <summary>The shortest per-attempt timeout handed to Polly when the overall deadline is nearly spent.</summary>
    private static readonly TimeSpan MinimumAttemptTimeout = TimeSpan.FromMilliseconds(1);

    private static readonly ResiliencePropertyKey<AddressAttempt> AttemptKey = new("TuplePool.AddressAttempt");

    private readonly SourceSelector _selector;
    private readonly ISocketConnector _connector;
    private readonly IKernelCensus _census;
    private readonly TuplePoolMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly TuplePoolOptions _options;
    private readonly ResiliencePipeline _attemptPipeline;
    private readonly AddressAttempt?[] _spareAttempts = new AddressAttempt?[Math.Min(16, Environment.ProcessorCount * 2)];
    private readonly long _totalTicks;
    private readonly bool _singleAddressNeedsDeadline;

    public ConnectionOpener(
        SourceSelector selector,
        ISocketConnector connector,
        IKernelCensus census,
        TuplePoolMetrics metrics,
        ILogger logger,
        TimeProvider timeProvider,
        TuplePoolOptions options)
    {
        _selector = selector;
        _connector = connector;
        _census = census;
        _metrics = metrics;
        _logger = logger;
        _timeProvider = timeProvider;
        _options = options;
        if (options.TotalConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            _totalTicks = Internal.Timestamps.ToTicks(options.TotalConnectTimeout, timeProvider);

            // One address, no strategies of the user's: the attempt pipeline alone is bounded by
            // ConnectTimeout × MaxConnectAttempts (retries have no delay), so the deadline only
            // needs tracking when that bound is looser than TotalConnectTimeout.
            _singleAddressNeedsDeadline = options.TotalConnectTimeout < options.ConnectTimeout * Math.Max(1, options.MaxConnectAttempts);
        }

        _attemptPipeline = CreateAttemptPipeline();
        Race = new AddressRace(this, timeProvider, options.HappyEyeballsDelay);
    }

    internal TuplePoolOptions Options => _options;

    internal TimeProvider TimeProvider => _timeProvider;

    private AddressRace Race { get; }

    /// <summary>
    /// The user's strategies for one destination (<see cref="TuplePoolOptions.ConfigureConnectPipeline"/>),
    /// run around the whole open — every address and attempt of one new connection — so a circuit
    /// breaker added there sees one outcome per new connection. <see cref="ResiliencePipeline.Empty"/>
    /// when there are none, which <see cref="OpenAsync"/> skips.
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
    /// refused, unreachable and timed-out connects, and for sources that cannot be bound at all.
    /// </summary>
    public ValueTask<OpenedConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, ResiliencePipeline pipeline, CancellationToken cancellationToken)
    {
        var withoutStrategies = ReferenceEquals(pipeline, ResiliencePipeline.Empty);
        long deadline = 0;
        if (_totalTicks != 0 && (addresses.Count != 1 || _singleAddressNeedsDeadline || !withoutStrategies))
        {
            deadline = _timeProvider.GetTimestamp() + _totalTicks;
        }

        return withoutStrategies
            ? OpenCoreAsync(addresses, deadline, scope: null, cancellationToken)
            : OpenWithStrategiesAsync(addresses, pipeline, deadline, cancellationToken);
    }

    private async ValueTask<OpenedConnection?> OpenWithStrategiesAsync(IReadOnlyList<IPEndPoint> addresses, ResiliencePipeline pipeline, long deadline, CancellationToken cancellationToken)
    {
        var scope = new OpenScope();
        OpenedConnection? kept = null;
        try
        {
            kept = await pipeline.ExecuteAsync(
                static (state, ct) => state.Opener.OpenCoreAsync(state.Addresses, state.Deadline, state.Scope, ct),
                (Opener: this, Addresses: addresses, Deadline: deadline, Scope: scope),
                cancellationToken).ConfigureAwait(false);
            return kept;
        }
        finally
        {
            scope.Complete(kept);
        }
    }

    private ValueTask<OpenedConnection?> OpenCoreAsync(IReadOnlyList<IPEndPoint> addresses, long deadline, OpenScope? scope, CancellationToken cancellationToken)
        => addresses.Count == 1
            ? ConnectAddressAsync(addresses[0], deadline, scope, cancellationToken)
            : Race.OpenAsync(addresses, deadline, scope, cancellationToken);

    /// <summary>
    /// One address: a source with room, a reserved tuple, the connect, retried on another source
    /// for address errors. Null when no source has room; <see cref="SocketException"/> naming the
    /// tuple for every other failure; <see cref="OperationCanceledException"/> when cancelled.
    /// </summary>
    internal async ValueTask<OpenedConnection?> ConnectAddressAsync(IPEndPoint address, long deadline, OpenScope? scope, CancellationToken cancellationToken)
    {
        var attempt = RentAttempt();
        attempt.Start(address, deadline, scope);
        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        if (deadline != 0)
        {
            context.Properties.Set(AttemptKey, attempt);
        }

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
            catch (TimeoutRejectedException e)
            {
                throw TimedOut(attempt, e.Timeout);
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

            return opened;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
            ReturnAttempt(attempt);
        }
    }

    /// <summary>True when <paramref name="deadline"/> (a timestamp; 0 = none) has passed.</summary>
    internal bool IsPast(long deadline) => deadline != 0 && _timeProvider.GetTimestamp() >= deadline;

    private ResiliencePipeline CreateAttemptPipeline()
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _timeProvider, Name = "TuplePool.ConnectAttempt" };
        if (_options.MaxConnectAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                Name = "TuplePool.RetryOnAnotherSource",
                MaxRetryAttempts = _options.MaxConnectAttempts - 1,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                // A timed-out attempt also moves on: a SYN black-holed on one source's path (a
                // firewall, a dead NAT mapping) is often answered from another. Not when the
                // overall deadline cut the attempt short: then there is no time left to retry.
                ShouldHandle = args => new ValueTask<bool>(args.Outcome.Exception switch
                {
                    SourceBindException => true,
                    SocketException e => IsAddressError(e),
                    TimeoutRejectedException => !(args.Context.Properties.TryGetValue(AttemptKey, out var a) && (a.LimitedByDeadline || IsPast(a.Deadline))),
                    _ => false,
                }),
            });
        }

        var timeout = new TimeoutStrategyOptions { Name = "TuplePool.ConnectTimeout", Timeout = _options.ConnectTimeout };
        if (_totalTicks != 0)
        {
            // Each attempt gets ConnectTimeout or what is left of TotalConnectTimeout, whichever is
            // shorter. The deadline travels in the context only when the open has one.
            var connectTimeout = _options.ConnectTimeout;
            var time = _timeProvider;
            timeout.TimeoutGenerator = args =>
            {
                var attempt = args.Context.Properties.GetValue(AttemptKey, null!);
                return new ValueTask<TimeSpan>(attempt is null ? connectTimeout : AttemptTimeout(attempt, connectTimeout, time));
            };
        }

        builder.AddTimeout(timeout);
        return builder.Build();
    }

    private static TimeSpan AttemptTimeout(AddressAttempt attempt, TimeSpan connectTimeout, TimeProvider time)
    {
        var remaining = time.GetElapsedTime(time.GetTimestamp(), attempt.Deadline);
        attempt.LimitedByDeadline = remaining < connectTimeout;
        return !attempt.LimitedByDeadline ? connectTimeout
            : remaining > MinimumAttemptTimeout ? remaining
            : MinimumAttemptTimeout;
    }

    private async ValueTask<OpenedConnection?> AttemptAsync(AddressAttempt attempt, CancellationToken cancellationToken)
    {
        if (IsPast(attempt.Deadline))
        {
            attempt.LimitedByDeadline = true;
            throw new TimeoutRejectedException(_options.TotalConnectTimeout);
        }

        var charge = _selector.TryReserve(attempt.Address, attempt.Excluded, out var source);
        if (charge is null || source is null)
        {
            // After a timeout, "no other source with room" must not turn into "wait for room":
            // the timeout is what this open ran into.
            return attempt.TimedOut ? throw new TimeoutRejectedException(_options.ConnectTimeout) : null;
        }

        var tuple = charge.Tuple;
        attempt.Current = tuple;
        var started = _timeProvider.GetTimestamp();
        Socket socket;
        try
        {
            socket = await _connector.ConnectAsync(source.Address, tuple.Destination, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            OnConnectFailed(e, attempt, source, charge);
            throw;
        }

        // From here the socket and its charge have one owner: whatever fails next disposes it.
        var opened = new OpenedConnection(socket, charge, source);
        attempt.Scope?.Track(opened);
        try
        {
            _metrics.RecordConnect(_timeProvider.GetElapsedTime(started), tuple);
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
    /// moment, a timed-out source is left out of this open's next attempt.
    /// </summary>
    private void OnConnectFailed(Exception error, AddressAttempt attempt, SourceAddress source, ConnectionCharge charge)
    {
        var tuple = charge.Tuple;
        try
        {
            switch (error)
            {
                case SourceBindException bind:
                    attempt.Exclude(source);
                    attempt.LastBindError = bind;
                    if (_selector.Quarantine(source))
                    {
                        Log.SourceQuarantined(_logger, source.Address, bind.SocketErrorCode.ToString(), _options.SourceQuarantine);
                    }

                    _metrics.RecordConnectError("bind_failed", tuple);
                    break;
                case SocketException e when IsAddressError(e):
                    // The kernel knows of sockets on this tuple that the ledger does not (another
                    // process, or TIME_WAIT outliving its charge): the tuple is charged as full for
                    // the hold, before the failed attempt's port goes back; the census count, of
                    // sockets in our port search's range, is for the log.
                    var kernelCount = CountInKernel(tuple);
                    var poolCount = charge.Local.CorrectFromKernel(KernelCorrectionHold);
                    attempt.Exclude(source);
                    Log.KernelCorrection(_logger, source.Address, tuple.Destination, kernelCount, poolCount, KernelCorrectionHold);
                    _metrics.RecordConnectError("address_not_available", tuple);
                    break;
                default:
                    if (error is OperationCanceledException)
                    {
                        // The per-attempt timeout (or the caller, who then gets no retry) cancelled it.
                        attempt.Exclude(source);
                        attempt.TimedOut = true;
                    }

                    _metrics.RecordConnectError(error, tuple);
                    break;
            }
        }
        finally
        {
            // Also when a metrics listener throws: the charge never outlives the failed connect.
            charge.Release(ReleaseKind.Free);
        }
    }

    private SocketException TimedOut(AddressAttempt attempt, TimeSpan timeout)
    {
        var (limit, option) = attempt.LimitedByDeadline
            ? (_options.TotalConnectTimeout, "TuplePoolOptions.TotalConnectTimeout, the bound on all attempts of one new connection")
            : (timeout, "TuplePoolOptions.ConnectTimeout");
        return NewSocketException(
            SocketError.TimedOut,
            string.Create(CultureInfo.InvariantCulture, $"Connecting {attempt.Describe()} timed out after {limit.TotalSeconds:0.###} s ({option})."));
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
    }

    private int CountInKernel(ConnectionTuple tuple)
    {
        try
        {
            // Only sockets in the range our sockets' port search walks stand in its way.
            return _census.Read().CountUsing(tuple.Source, tuple.Destination, _selector.Budget.SearchRange);
        }
#pragma warning disable CA1031 // The census is advice on the error path; without it the tuple is treated as full.
        catch (Exception)
#pragma warning restore CA1031
        {
            return 0;
        }
    }

    private void WarnWhenNearlyFull(TupleLedger ledger)
    {
        if (ledger.Capacity > 0 && ledger.CrossedNinetyPercent())
        {
            Log.TupleNearlyExhausted(_logger, ledger.Tuple.Source, ledger.Tuple.Destination, ledger.Capacity - ledger.Remaining, ledger.Capacity);
        }
    }

    internal static bool IsAddressError(SocketException e)
        => e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressAlreadyInUse;

    internal static SocketException NewSocketException(SocketError code, string message) => new((int)code, message);
}
