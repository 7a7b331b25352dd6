using TuplePool.Platform;

namespace TuplePool.Tests.Platform;

/// <summary>
/// A netlink backend as a restricted container answers it: every call refused with one error
/// (EPERM by default), or, with <see cref="Status"/> set to failed, a failure that may pass.
/// Counts its calls.
/// </summary>
internal sealed class RefusingCensusBackend(int errno = Errnos.EPERM) : ICensusBackend
{
    public CensusStatus Status { get; init; } = CensusStatus.Refused;

    /// <summary>True: the probe passes and only the queries are refused (an older kernel that takes the probe's program but not another).</summary>
    public bool ProbeAnswers { get; init; }

    public int Calls { get; private set; }

    public CensusBackend Kind => CensusBackend.SockDiag;

    public CensusResult Probe()
    {
        if (ProbeAnswers)
        {
            Calls++;
            return CensusResult.Ok;
        }

        return Answer();
    }

    public CensusResult Count(in CensusFilter filter, out int count)
    {
        count = 0;
        return Answer();
    }

    public CensusResult Query(in CensusFilter filter, List<KernelSocket> results) => Answer();

    public CensusResult Lookup(ReadOnlySpan<TcpFourTuple> connections, List<KernelSocket> results) => Answer();

    public CensusResult ReadAll(TcpStateMask states, out KernelSocketTable table)
    {
        table = KernelSocketTable.Unavailable([], null);
        return Answer();
    }

    private CensusResult Answer()
    {
        Calls++;
        return Status == CensusStatus.Refused
            ? CensusResult.Refused(errno, "SOCK_DIAG_BY_FAMILY")
            : CensusResult.Failed(errno, "recv(NETLINK_SOCK_DIAG)");
    }
}
