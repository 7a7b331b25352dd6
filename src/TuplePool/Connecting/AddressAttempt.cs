using System.Net;
using TuplePool.Budget;
using TuplePool.Sources;

namespace TuplePool.Connecting;

/// <summary>
/// The state of one address's connect across its retries on other sources: which sources
/// already failed, the tuple being tried, the last bind error, the open's limits, and the
/// attempt's own timeout. The opener keeps a few of these for reuse, so a new connection
/// allocates none of it.
/// </summary>
internal sealed class AddressAttempt : IDisposable
{
    private readonly List<SourceAddress> _excluded = [];
    private readonly TimeProvider _timeProvider;
    private CancellationTokenSource _timeout;
    private CancellationTokenRegistration _caller;
    private CancellationTokenRegistration _disposing;

    public AddressAttempt(ConnectionOpener opener)
    {
        Opener = opener;
        _timeProvider = opener.TimeProvider;
        _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _timeProvider);
    }

    public ConnectionOpener Opener { get; }

    public IPEndPoint Address { get; private set; } = null!;

    /// <summary>The open's time limits.</summary>
    public ConnectLimits Limits { get; private set; }

    /// <summary>When the open started (for the message of a deadline it ran into).</summary>
    public long OpenStarted { get; private set; }

    /// <summary>Where the connections of an open with user strategies are tracked; null without them.</summary>
    public OpenScope? Scope { get; private set; }

    /// <summary>Sources that failed for this address in this open (null when none: nothing to skip).</summary>
    public IReadOnlyCollection<SourceAddress>? Excluded => _excluded.Count == 0 ? null : _excluded;

    public ConnectionTuple? Current { get; set; }

    public SourceBindException? LastBindError { get; set; }

    /// <summary>The last attempt of this open that timed out, and by which limit; null when none did.</summary>
    public (ConnectLimit Limit, TimeSpan Timeout)? TimedOut { get; set; }

    /// <summary>The current attempt's own timeout fired (rather than the caller's token or the pool's disposal).</summary>
    public bool TimeoutFired => _timeout.IsCancellationRequested;

    public void Start(IPEndPoint address, ConnectLimits limits, OpenScope? scope)
    {
        Address = address;
        Limits = limits;
        Scope = scope;
        OpenStarted = _timeProvider.GetTimestamp();
    }

    public void Exclude(SourceAddress source) => _excluded.Add(source);

    /// <summary>
    /// The token the current attempt connects with: cancelled after <paramref name="timeout"/>, by
    /// the caller's token, or by the pool's disposal. One reused source per attempt object.
    /// </summary>
    public CancellationToken StartTimeout(TimeSpan timeout, CancellationToken caller, CancellationToken disposing)
    {
        if (!_timeout.TryReset())
        {
            _timeout.Dispose();
            _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _timeProvider);
        }

        if (caller.CanBeCanceled)
        {
            _caller = caller.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _timeout);
        }

        if (disposing.CanBeCanceled)
        {
            _disposing = disposing.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), _timeout);
        }

        if (timeout <= TimeSpan.Zero)
        {
            _timeout.Cancel();
        }
        else
        {
            _timeout.CancelAfter(timeout);
        }

        return _timeout.Token;
    }

    /// <summary>Unhooks the attempt's token from the caller's and the pool's (waiting for a callback that is running).</summary>
    public void StopTimeout()
    {
        _caller.Dispose();
        _caller = default;
        _disposing.Dispose();
        _disposing = default;
    }

    public void Clear()
    {
        Address = null!;
        Limits = default;
        Scope = null;
        OpenStarted = 0;
        Current = null;
        LastBindError = null;
        TimedOut = null;
        _excluded.Clear();
    }

    public void Dispose() => _timeout.Dispose();

    public string Describe() => Current is { } tuple
        ? $"from {tuple.Source} to {tuple.Destination}"
        : $"to {Address}";
}
