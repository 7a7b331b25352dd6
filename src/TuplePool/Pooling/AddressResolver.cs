using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using TuplePool.Telemetry;

namespace TuplePool.Pooling;

/// <summary>
/// The addresses one destination connects to: the address itself for an <see cref="IPEndPoint"/>;
/// for a <see cref="DnsEndPoint"/>, a DNS lookup reused for <see cref="TuplePoolOptions.DnsRefreshInterval"/>
/// (for good when that is infinite). Only the slow path (a new connection) asks; an idle hit
/// never waits for DNS. A lookup is bounded by <see cref="TuplePoolOptions.ConnectTimeout"/> and
/// the caller's token. When a refresh fails the previous answer is kept and the failure logged;
/// when a name has no answer at all, the failure is remembered for <see cref="NegativeCacheDuration"/>
/// so a crowd of callers does not queue one lookup each behind it. Every address an answer gives
/// is checked as a given destination is: one no connection can be made to (0.0.0.0, ::, a
/// broadcast or multicast address) is skipped when the answer has others, and refused, naming
/// the name and the address, when it has none.
/// </summary>
internal sealed partial class AddressResolver
{
    /// <summary>The longest a failed lookup is remembered (never longer than the refresh interval).</summary>
    public static readonly TimeSpan NegativeCacheDuration = TimeSpan.FromSeconds(5);

    private readonly DnsEndPoint? _name;
    private readonly Func<AddressFamily, bool> _hasSourceFor;
    private readonly TimeProvider _timeProvider;
    private readonly TimeSpan _refreshInterval;
    private readonly TimeSpan _negativeCache;
    private readonly TimeSpan _lookupTimeout;
    private readonly ILogger _logger;
    private readonly Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>> _lookup;
    private readonly SemaphoreSlim? _gate; // one lookup of a name at a time; an address needs none
    private volatile IPEndPoint[] _current;
    private long _resolvedAt;
    private Failure? _failure;

    public AddressResolver(
        EndPoint destination,
        Func<AddressFamily, bool> hasSourceFor,
        TimeProvider timeProvider,
        TimeSpan refreshInterval,
        TimeSpan lookupTimeout,
        ILogger logger,
        Func<string, AddressFamily, CancellationToken, Task<IPAddress[]>>? lookup = null)
    {
        _hasSourceFor = hasSourceFor;
        _timeProvider = timeProvider;
        _refreshInterval = refreshInterval;
        _negativeCache = refreshInterval != Timeout.InfiniteTimeSpan && refreshInterval < NegativeCacheDuration ? refreshInterval : NegativeCacheDuration;
        _lookupTimeout = lookupTimeout;
        _logger = logger;
        _lookup = lookup ?? Dns.GetHostAddressesAsync;
        switch (destination)
        {
            case IPEndPoint ip:
                _current = [ip];
                break;
            case DnsEndPoint name:
                _name = name;
                _gate = new SemaphoreSlim(1, 1);
                _current = [];
                break;
            default:
                throw new ArgumentException($"TuplePool connects to an IPEndPoint or a DnsEndPoint, not {destination.GetType().Name}.", nameof(destination));
        }
    }

    /// <summary>The last known addresses (empty before the first lookup of a name).</summary>
    public IReadOnlyList<IPEndPoint> Current => _current;

    public bool MayUse(IPEndPoint address) => Array.IndexOf(_current, address) >= 0;

    public ValueTask<IReadOnlyList<IPEndPoint>> ResolveAsync(CancellationToken cancellationToken)
        => _name is null || !IsStale() ? new ValueTask<IReadOnlyList<IPEndPoint>>(_current) : LookUpAsync(_name, cancellationToken);

    private async ValueTask<IReadOnlyList<IPEndPoint>> LookUpAsync(DnsEndPoint name, CancellationToken cancellationToken)
    {
        ThrowIfRecentlyFailed(name);
        using var timeout = _lookupTimeout == Timeout.InfiniteTimeSpan ? null : new CancellationTokenSource(_lookupTimeout, _timeProvider);
        using var linked = timeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var token = linked?.Token ?? cancellationToken;
        try
        {
            await _gate!.WaitAsync(token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // Queued behind a slow lookup for the whole bound: fall back like a failed lookup of our own.
            return KeepOrThrow(name, TimedOut(name));
        }

        try
        {
            if (!IsStale())
            {
                return _current;
            }

            ThrowIfRecentlyFailed(name);
            IPAddress[] found;
            try
            {
                found = await _lookup(name.Host, name.AddressFamily, token).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                return KeepOrThrow(name, new SocketException(
                    (int)SocketError.HostNotFound,
                    $"The DNS lookup of '{name.Host}' failed ({e.SocketErrorCode}: {e.Message}); no address to connect to {name.Host}:{name.Port}."));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return KeepOrThrow(name, TimedOut(name));
            }

            var answer = Sort(name, found);
            var usable = answer.Usable;
            if (usable.Length == 0)
            {
                var error = found.Length == 0
                    ? new SocketException((int)SocketError.HostNotFound, $"The DNS lookup of '{name.Host}' returned no address; nothing to connect to {name.Host}:{name.Port}.")
                    : answer.Connectable.Count == 0
                        ? new SocketException((int)SocketError.HostNotFound, $"The DNS lookup of '{name.Host}' returned only addresses no TCP connection can be made to: {string.Join("; ", answer.Refused)}; nothing to connect to {name.Host}:{name.Port}. A hosts file or DNS blocklist answers 0.0.0.0 or :: for a name it blocks.")
                        : AcquireErrors.NoSourceForFamily(name, answer.Connectable);
                return KeepOrThrow(name, error);
            }

            foreach (var refused in answer.Refused)
            {
                LogAddressSkipped(_logger, name.Host, refused);
            }

            _current = usable;
            _failure = null;
            Volatile.Write(ref _resolvedAt, _timeProvider.GetTimestamp());
            return usable;
        }
        finally
        {
            _gate!.Release();
        }
    }

    /// <summary>
    /// What a DNS answer gives to connect to. Each address is checked as a given destination is
    /// (<see cref="DestinationKeys.WhyNotConnectable"/>): a blocklist's 0.0.0.0 would otherwise be
    /// connected to this machine itself while the lease and the ledger say 0.0.0.0. Each one
    /// kept is the pool's own copy as the kernel sees it (an IPv4-mapped address is the IPv4
    /// address), once, in the answer's order, and only of a family the pool has a source for.
    /// </summary>
    private Answer Sort(DnsEndPoint name, IPAddress[] found)
    {
        var usable = new List<IPEndPoint>(found.Length);
        var connectable = new List<IPAddress>(found.Length);
        var refused = new List<string>();
        foreach (var address in found)
        {
            var endPoint = new IPEndPoint(DestinationKeys.Plain(address), name.Port);
            if (connectable.Contains(endPoint.Address))
            {
                continue;
            }

            if (DestinationKeys.WhyNotConnectable(endPoint, _timeProvider) is { } why)
            {
                var entry = $"{endPoint.Address} {why}";
                if (!refused.Contains(entry))
                {
                    refused.Add(entry);
                }

                continue;
            }

            connectable.Add(endPoint.Address);
            if (_hasSourceFor(endPoint.AddressFamily))
            {
                usable.Add(endPoint);
            }
        }

        return new Answer([.. usable], connectable, refused);
    }

    /// <summary>After a failed lookup: the previous answer when there is one, else the error (remembered briefly).</summary>
    private IReadOnlyList<IPEndPoint> KeepOrThrow(DnsEndPoint name, SocketException error)
    {
        var current = _current;
        if (current.Length > 0)
        {
            Log.DnsStale(_logger, name.Host, error.SocketErrorCode.ToString(), current.Length);
            Volatile.Write(ref _resolvedAt, _timeProvider.GetTimestamp());
            return current;
        }

        _failure = new Failure(error.SocketErrorCode, error.Message, _timeProvider.GetTimestamp());
        throw error;
    }

    private void ThrowIfRecentlyFailed(DnsEndPoint name)
    {
        if (_failure is { } failure && _timeProvider.GetElapsedTime(failure.At) < _negativeCache)
        {
            // A new exception per caller: one instance thrown on many threads would mix their stack traces.
            throw new SocketException((int)failure.Error, failure.Message);
        }
    }

    private SocketException TimedOut(DnsEndPoint name) => new(
        (int)SocketError.TimedOut,
        string.Create(CultureInfo.InvariantCulture, $"The DNS lookup of '{name.Host}' did not finish within {_lookupTimeout.TotalSeconds:0.###} s (TuplePoolOptions.ConnectTimeout)."));

    private bool IsStale()
    {
        var at = Volatile.Read(ref _resolvedAt);
        return at == 0
            || _current.Length == 0
            || (_refreshInterval != Timeout.InfiniteTimeSpan && _timeProvider.GetElapsedTime(at) >= _refreshInterval);
    }

    [LoggerMessage(10, LogLevel.Warning, "The DNS answer for {Host} included {Address}; it is skipped, and the name's other addresses are used.")]
    private static partial void LogAddressSkipped(ILogger logger, string host, string address);

    private sealed record Failure(SocketError Error, string Message, long At);

    /// <summary>A sorted DNS answer: what to connect to, what could be connected to given a source of its family, and why the rest cannot.</summary>
    private readonly record struct Answer(IPEndPoint[] Usable, IReadOnlyList<IPAddress> Connectable, IReadOnlyList<string> Refused);
}
