using System.Net;
using System.Runtime.InteropServices;

namespace TuplePool.Platform;

/// <summary>
/// The machine's TCP table: through <c>NETLINK_SOCK_DIAG</c> (<see cref="SockDiagCensus"/>),
/// and from <c>/proc/net/tcp{,6}</c> (<see cref="ProcNetTcpCensus"/>) where netlink is refused.
/// </summary>
/// <remarks>
/// The first query (or <see cref="Backend"/>) asks netlink whether it answers. A refusal
/// (<c>EPERM</c> in a restricted container, <c>EPROTONOSUPPORT</c> without sock_diag, no
/// inet_diag handler: <see cref="CensusStatus.Refused"/>) is final: from then on every query
/// reads <c>/proc</c>, and <see cref="FallbackReason"/> says why. A query that fails for a reason
/// that may pass (out of descriptors, a reply lost) is answered from <c>/proc</c> that once.
/// </remarks>
internal sealed class KernelCensus : IKernelCensus
{
    public const string TcpPath = ProcNetTcpCensus.TcpPath;
    public const string Tcp6Path = ProcNetTcpCensus.Tcp6Path;

    private const int Unknown = 0;
    private const int Answers = 1;
    private const int Refused = 2;

    private readonly ICensusBackend? _primary;
    private readonly ICensusBackend _fallback;
    private int _primaryState;
    private string? _fallbackReason;

    /// <summary>Netlink first, <paramref name="fileSystem"/>'s <c>/proc/net/tcp{,6}</c> where it is refused.</summary>
    public KernelCensus(IProcFileSystem fileSystem)
        : this(SockDiagCensus.Default, new ProcNetTcpCensus(fileSystem), null)
    {
    }

    /// <param name="primary">Asked first; null to use <paramref name="fallback"/> only.</param>
    /// <param name="fallback">Asked where <paramref name="primary"/> refuses or fails.</param>
    /// <param name="noPrimaryReason">What <see cref="FallbackReason"/> says when there is no primary.</param>
    internal KernelCensus(ICensusBackend? primary, ICensusBackend fallback, string? noPrimaryReason)
    {
        ArgumentNullException.ThrowIfNull(fallback);
        _primary = primary;
        _fallback = fallback;
        if (primary is null)
        {
            _primaryState = Refused;
            _fallbackReason = noPrimaryReason ?? "netlink is not asked";
        }
    }

    /// <summary>The census of this machine: netlink, else the real <c>/proc</c>.</summary>
    public static KernelCensus Default { get; } = new(ProcFileSystem.Default);

    /// <summary>A census that reads only <paramref name="fileSystem"/>'s <c>/proc/net/tcp{,6}</c> (captured text).</summary>
    public static KernelCensus ProcOnly(IProcFileSystem fileSystem, string reason) => new(null, new ProcNetTcpCensus(fileSystem), reason);

    public CensusBackend Backend => PrimaryAnswers() ? _primary!.Kind : _fallback.Kind;

    public string? FallbackReason
    {
        get
        {
            _ = PrimaryAnswers();
            return Volatile.Read(ref _fallbackReason);
        }
    }

    public KernelCensusSnapshot Read() => KernelCensusSnapshot.FromTable(ReadAll(TcpStateMask.All));

    public KernelSocketTable ReadAll(TcpStateMask states)
    {
        if (PrimaryAnswers(out var failure))
        {
            var result = _primary!.ReadAll(states, out var table);
            if (result.IsOk)
            {
                return table;
            }

            Note(result);
            failure = "netlink failed this time: " + result.Detail;
        }

        var fallback = _fallback.ReadAll(states, out var read);
        var reason = Volatile.Read(ref _fallbackReason) ?? failure;
        return read with { FallbackReason = fallback.IsOk ? reason : reason + "; " + fallback.Detail };
    }

    public bool TryCount(IPAddress? source, IPEndPoint destination, TcpStateMask states, PortRange? localPorts, out int count)
    {
        var filter = new CensusFilter(source, destination, states, localPorts);
        if (PrimaryAnswers())
        {
            var result = _primary!.Count(filter, out count);
            if (result.IsOk)
            {
                return true;
            }

            Note(result);
        }

        return _fallback.Count(filter, out count).IsOk;
    }

    public bool TryQuery(IPAddress? source, IPEndPoint destination, TcpStateMask states, List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(results);
        var filter = new CensusFilter(source, destination, states, localPorts: null);
        if (PrimaryAnswers())
        {
            var result = _primary!.Query(filter, results);
            if (result.IsOk)
            {
                return true;
            }

            Note(result);
        }

        return _fallback.Query(filter, results).IsOk;
    }

    public bool TryLookup(IReadOnlyList<TcpFourTuple> connections, List<KernelSocket> results)
    {
        ArgumentNullException.ThrowIfNull(connections);
        ArgumentNullException.ThrowIfNull(results);
        var span = connections switch
        {
            TcpFourTuple[] array => array,
            List<TcpFourTuple> list => CollectionsMarshal.AsSpan(list),
            _ => connections.ToArray(),
        };
        if (PrimaryAnswers())
        {
            var result = _primary!.Lookup(span, results);
            if (result.IsOk)
            {
                return true;
            }

            Note(result);
        }

        return _fallback.Lookup(span, results).IsOk;
    }

    private bool PrimaryAnswers() => PrimaryAnswers(out _);

    // Asks the primary once whether it answers at all; its refusal is final, a failure that may
    // pass (in failure) leaves the question open for the next query.
    private bool PrimaryAnswers(out string? failure)
    {
        failure = null;
        switch (Volatile.Read(ref _primaryState))
        {
            case Answers:
                return true;
            case Refused:
                return false;
        }

        var probe = _primary!.Probe();
        if (probe.IsOk)
        {
            Interlocked.CompareExchange(ref _primaryState, Answers, Unknown);
            return Volatile.Read(ref _primaryState) == Answers;
        }

        Note(probe);
        failure = "netlink failed this time: " + probe.Detail;
        return false;
    }

    private void Note(CensusResult result)
    {
        if (result.Status == CensusStatus.Refused)
        {
            // Written before the state, so whoever sees "refused" also sees why.
            Volatile.Write(ref _fallbackReason, "netlink refused: " + result.Detail);
            Volatile.Write(ref _primaryState, Refused);
        }
    }
}
