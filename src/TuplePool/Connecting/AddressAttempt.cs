using System.Net;
using TuplePool.Budget;
using TuplePool.Sources;

namespace TuplePool.Connecting;

/// <summary>
/// The state of one address's connect across its retries on other sources: which sources
/// already failed, the tuple being tried, the last bind error, and the overall deadline. The
/// opener keeps a few of these for reuse, so a new connection allocates none.
/// </summary>
internal sealed class AddressAttempt
{
    private readonly List<SourceAddress> _excluded = [];

    public AddressAttempt(ConnectionOpener opener) => Opener = opener;

    public ConnectionOpener Opener { get; }

    public IPEndPoint Address { get; private set; } = null!;

    /// <summary>Timestamp by which the whole open must be done (TotalConnectTimeout); 0 = none.</summary>
    public long Deadline { get; private set; }

    /// <summary>The per-attempt timeout last handed to Polly came from the deadline, not ConnectTimeout.</summary>
    public bool LimitedByDeadline { get; set; }

    /// <summary>Sources that failed for this address in this open (null when none: nothing to skip).</summary>
    public IReadOnlyCollection<SourceAddress>? Excluded => _excluded.Count == 0 ? null : _excluded;

    public ConnectionTuple? Current { get; set; }

    public SourceBindException? LastBindError { get; set; }

    /// <summary>An attempt of this open timed out (its source is excluded, so the next tries another one).</summary>
    public bool TimedOut { get; set; }

    /// <summary>Where the connections of an open with user strategies are tracked; null without them.</summary>
    public OpenScope? Scope { get; private set; }

    public void Start(IPEndPoint address, long deadline, OpenScope? scope)
    {
        Address = address;
        Deadline = deadline;
        Scope = scope;
    }

    public void Exclude(SourceAddress source) => _excluded.Add(source);

    public void Clear()
    {
        Address = null!;
        Deadline = 0;
        Scope = null;
        LimitedByDeadline = false;
        Current = null;
        LastBindError = null;
        TimedOut = false;
        _excluded.Clear();
    }

    public string Describe() => Current is { } tuple
        ? $"from {tuple.Source} to {tuple.Destination}"
        : $"to {Address}";
}
