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
/// Turns "connect to one of these addresses" into a budgeted connection: picks the source with
/// room, reserves its tuple, connects inside the Polly pipeline (per-attempt timeout, retry on
/// another source for address errors), and gives the reservation back when the connect fails.
/// Returns null when no tuple has room, so the pool can queue the caller.
/// </summary>
internal sealed class ConnectionOpener
{
    /// <summary>How long a census correction keeps a tuple charged before the pool tries it again.</summary>
    internal static readonly TimeSpan KernelCorrectionHold = TimeSpan.FromSeconds(1);

    private readonly SourceSelector _selector;
    private readonly ISocketConnector _connector;
    private readonly IKernelCensus _census;
    private readonly TuplePoolMetrics _metrics;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly TuplePoolOptions _options;

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
    }

    /// <summary>
    /// The pipeline for one destination: the user's strategies outermost, then retry on another
    /// source for address errors (no delay: the next source is a different tuple), then the
    /// per-attempt connect timeout.
    /// </summary>
    public ResiliencePipeline CreatePipeline(EndPoint destination)
    {
        var builder = new ResiliencePipelineBuilder { TimeProvider = _timeProvider, Name = "TuplePool.Connect" };
        _options.ConfigureConnectPipeline?.Invoke(builder, destination);
        if (_options.MaxConnectAttempts > 1)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                Name = "TuplePool.RetryOnAnotherSource",
                MaxRetryAttempts = _options.MaxConnectAttempts - 1,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                ShouldHandle = new PredicateBuilder().Handle<SourceBindException>().Handle<SocketException>(IsAddressError),
            });
        }

        if (_options.ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            builder.AddTimeout(new TimeoutStrategyOptions { Name = "TuplePool.ConnectTimeout", Timeout = _options.ConnectTimeout });
        }

        return builder.Build();
    }

    /// <summary>
    /// Opens a connection to one of <paramref name="addresses"/>, or returns null when no source
    /// has room on any of them. Throws <see cref="SocketException"/> naming the tuple for refused,
    /// unreachable and timed-out connects, and for sources that cannot be bound at all.
    /// </summary>
    public async ValueTask<OpenedConnection?> OpenAsync(IReadOnlyList<IPEndPoint> addresses, ResiliencePipeline pipeline, CancellationToken cancellationToken)
    {
        var attempt = new Attempt(this, addresses);
        OpenedConnection? opened;
        try
        {
            opened = await pipeline.ExecuteAsync(
                static (state, ct) => state.Opener.AttemptAsync(state, ct),
                attempt,
                cancellationToken).ConfigureAwait(false);
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
        catch (TimeoutRejectedException)
        {
            throw NewSocketException(
                SocketError.TimedOut,
                string.Create(CultureInfo.InvariantCulture, $"Connecting {attempt.Describe()} timed out after {_options.ConnectTimeout.TotalSeconds:0.###} s (TuplePoolOptions.ConnectTimeout)."));
        }

        if (opened is null && AllSourcesQuarantined(addresses))
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

    private async ValueTask<OpenedConnection?> AttemptAsync(Attempt attempt, CancellationToken cancellationToken)
    {
        TupleLedger? ledger = null;
        SourceAddress? source = null;
        foreach (var address in attempt.Addresses)
        {
            ledger = _selector.TryReserve(address, attempt.Excluded, out source);
            if (ledger is not null)
            {
                break;
            }
        }

        if (ledger is null || source is null)
        {
            return null;
        }

        attempt.Current = ledger.Tuple;
        var started = _timeProvider.GetTimestamp();
        try
        {
            var socket = await _connector.ConnectAsync(source.Address, ledger.Tuple.Destination, cancellationToken).ConfigureAwait(false);
            _metrics.RecordConnect(_timeProvider.GetElapsedTime(started), ledger.Tuple);
            WarnWhenNearlyFull(ledger);
            return new OpenedConnection(socket, ledger, source);
        }
        catch (SourceBindException e)
        {
            ledger.Release(ReleaseKind.Free);
            attempt.Exclude(source);
            attempt.LastBindError = e;
            _metrics.RecordConnectError("bind_failed", ledger.Tuple);
            if (_selector.Quarantine(source))
            {
                Log.SourceQuarantined(_logger, source.Address, e.SocketErrorCode.ToString(), _options.SourceQuarantine);
            }

            throw;
        }
        catch (SocketException e) when (IsAddressError(e))
        {
            // The kernel knows of sockets on this tuple that the ledger does not (another
            // process, or TIME_WAIT outliving its charge): count them and move on.
            var kernelCount = CountInKernel(ledger.Tuple);
            var poolCount = ledger.CorrectFromKernel(KernelCorrectionHold);
            ledger.Release(ReleaseKind.Free);
            attempt.Exclude(source);
            _metrics.RecordConnectError("address_not_available", ledger.Tuple);
            Log.KernelCorrection(_logger, source.Address, ledger.Tuple.Destination, kernelCount, poolCount, KernelCorrectionHold);
            throw;
        }
        catch (Exception e)
        {
            ledger.Release(ReleaseKind.Free);
            _metrics.RecordConnectError(ErrorType(e), ledger.Tuple);
            throw;
        }
    }

    private int CountInKernel(ConnectionTuple tuple)
    {
        try
        {
            return _census.Read().CountUsing(tuple.Source, tuple.Destination);
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

    private bool AllSourcesQuarantined(IReadOnlyList<IPEndPoint> addresses)
    {
        foreach (var address in addresses)
        {
            if (!_selector.AllQuarantined(address.Address))
            {
                return false;
            }
        }

        return addresses.Count > 0;
    }

    internal static bool IsAddressError(SocketException e)
        => e.SocketErrorCode is SocketError.AddressNotAvailable or SocketError.AddressAlreadyInUse;

    private static string ErrorType(Exception e) => e switch
    {
        SocketException s => s.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection_refused",
            SocketError.HostUnreachable => "host_unreachable",
            SocketError.NetworkUnreachable => "network_unreachable",
            SocketError.TimedOut => "timed_out",
            _ => s.SocketErrorCode.ToString(),
        },
        OperationCanceledException => "canceled",
        _ => e.GetType().Name,
    };

    private static SocketException NewSocketException(SocketError code, string message) => new((int)code, message);

    /// <summary>The state of one OpenAsync across its retries.</summary>
    private sealed class Attempt(ConnectionOpener opener, IReadOnlyList<IPEndPoint> addresses)
    {
        private List<SourceAddress>? _excluded;

        public ConnectionOpener Opener { get; } = opener;

        public IReadOnlyList<IPEndPoint> Addresses { get; } = addresses;

        public IReadOnlyCollection<SourceAddress>? Excluded => _excluded;

        public ConnectionTuple? Current { get; set; }

        public SourceBindException? LastBindError { get; set; }

        public void Exclude(SourceAddress source) => (_excluded ??= []).Add(source);

        public string Describe() => Current is { } tuple
            ? $"from {tuple.Source} to {tuple.Destination}"
            : $"to {string.Join(", ", Addresses)}";
    }
}
